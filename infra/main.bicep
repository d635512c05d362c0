// FinServerless on Azure: everything the function app and the training job need, with managed identity and no secrets.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used in resource names and tags.')
param environmentName string

@minLength(1)
@description('Region of every resource (pick one with Flex Consumption and serverless GPUs for Container Apps).')
param location string

@description('Object id of the person running azd, granted data access to upload contracts and sample files. Empty: none.')
param principalId string = ''

@allowed([ 'FlexConsumption', 'ElasticPremium' ])
@description('Function app hosting: Flex Consumption (default, runtime dotnet-isolated 10.0), or Elastic Premium where a region lacks Flex Consumption.')
param functionPlan string = 'FlexConsumption'

@allowed([ 'T4', 'A100' ])
@description('GPU of the training job\'s serverless workload profile.')
param trainingGpu string = 'T4'

@description('Training container image; the postprovision hook builds ours into the registry and points the job at it.')
param trainingImage string = 'mcr.microsoft.com/k8se/quickstart-jobs:latest'

@description('Partners whose inbox containers (inbox-{partner}) are created.')
param partners array = [ 'demo' ]

@description('NightlyRescore schedule (six-field NCRONTAB, UTC).')
param rescoreSchedule string = '0 0 2 * * *'

@description('AUC margin a candidate must gain over the champion to be promoted.')
param promotionMargin string = '0.002'

@description('Largest synchronous ScoreBatch request, in rows.')
param scoreMaxRows string = '10000'

@description('Risk band cut-offs on the probability of default.')
param masterScale string = '1:0.0025,2:0.005,3:0.01,4:0.02,5:0.04,6:0.08,7:0.15,8:0.3,9'

@description('Minutes before TrainModel gives up on a training job.')
param trainingTimeoutMinutes string = '120'

@description('Days quarantined files and reports are kept.')
param quarantineRetentionDays int = 90

@description('Days curated runs and score runs are kept before deletion.')
param runRetentionDays int = 400

var abbrs = loadJsonContent('abbreviations.json')
var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourceGroup}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: { name: '${abbrs.managedIdentity}${token}', location: location, tags: tags }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: { logAnalyticsName: '${abbrs.logAnalytics}${token}', appInsightsName: '${abbrs.appInsights}${token}', location: location, tags: tags }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageAccount}${token}'
    location: location
    tags: tags
    partners: partners
    deploymentContainer: 'app-package-${token}'
    quarantineRetentionDays: quarantineRetentionDays
    runRetentionDays: runRetentionDays
  }
}

module registry 'app/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: { name: '${abbrs.containerRegistry}${token}', location: location, tags: tags }
}

module training 'app/training-job.bicep' = {
  name: 'training'
  scope: rg
  params: {
    environmentName: '${abbrs.containerAppsEnvironment}${token}'
    jobName: '${abbrs.containerAppsJob}train-${token}'
    location: location
    tags: tags
    gpu: trainingGpu
    image: trainingImage
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    registryServer: registry.outputs.loginServer
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    planName: '${abbrs.appServicePlan}${token}'
    appName: '${abbrs.functionApp}${token}'
    location: location
    tags: tags
    plan: functionPlan
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainer: storage.outputs.deploymentContainer
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    trainingJobId: training.outputs.jobId
    rescoreSchedule: rescoreSchedule
    promotionMargin: promotionMargin
    scoreMaxRows: scoreMaxRows
    masterScale: masterScale
    trainingTimeoutMinutes: trainingTimeoutMinutes
  }
}

module events 'app/events.bicep' = {
  name: 'events'
  scope: rg
  params: {
    name: '${abbrs.eventGridSystemTopic}${token}'
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
    identityId: identity.outputs.id
    queueName: 'ingest-events'
  }
  dependsOn: [ rbac ]
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    registryName: registry.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    jobName: training.outputs.jobName
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output TRAINING_JOB_NAME string = training.outputs.jobName
output FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_URL string = functionApp.outputs.url
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
