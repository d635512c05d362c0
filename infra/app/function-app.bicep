// The function app (.NET isolated worker, dotnet-isolated 10.0) on Flex Consumption, or Elastic Premium where a
// region lacks Flex Consumption; identity-based storage settings and every setting the app reads (AppSettings.cs).
param planName string
param appName string
param location string
param tags object
@allowed([ 'FlexConsumption', 'ElasticPremium' ])
param plan string
param identityId string
param identityClientId string
param blobEndpoint string
param queueEndpoint string
param tableEndpoint string
param deploymentContainer string
param appInsightsConnectionString string
param trainingJobId string
param rescoreSchedule string
param promotionMargin string
param scoreMaxRows string
param masterScale string
param trainingTimeoutMinutes string

var isFlex = plan == 'FlexConsumption'

resource hostingPlan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: isFlex ? { name: 'FC1', tier: 'FlexConsumption' } : { name: 'EP1', tier: 'ElasticPremium' }
  properties: { reserved: true }
}

var appSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: queueEndpoint
  AzureWebJobsStorage__tableServiceUri: tableEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AZURE_CLIENT_ID: identityClientId
  FINSERVERLESS_SCORE_MAX_ROWS: scoreMaxRows
  FINSERVERLESS_SCORE_MAX_BODY_BYTES: string(int(scoreMaxRows) * 2048)
  FINSERVERLESS_INGEST_MAX_DECOMPRESSED_BYTES: '53687091200'
  FINSERVERLESS_INGEST_MAX_EXPANSION_RATIO: '200'
  FINSERVERLESS_INGEST_MAX_ROWS: '100000000'
  FINSERVERLESS_INGEST_PART_BYTES: '33554432'
  FINSERVERLESS_PROMOTION_MARGIN: promotionMargin
  FINSERVERLESS_RESCORE_SCHEDULE: rescoreSchedule
  FINSERVERLESS_MASTER_SCALE: masterScale
  FINSERVERLESS_SCORE_ENGINE: 'auto'
  FINSERVERLESS_SCORE_REASONS: '4'
  FINSERVERLESS_TRAINING_DISPATCHER: 'containerapps'
  FINSERVERLESS_TRAINING_JOB_ID: trainingJobId
  FINSERVERLESS_TRAINING_DEVICE: 'cuda'
  FINSERVERLESS_TRAINING_TIMEOUT_MINUTES: trainingTimeoutMinutes
  FINSERVERLESS_TRAINING_POLL_SECONDS: '30'
  FINSERVERLESS_TRAIN_MIN_ROWS: '1000'
  FINSERVERLESS_TRAIN_MIN_CLASS_ROWS: '50'
  FINSERVERLESS_PROMOTION_MIN_ROWS: '200'
  FINSERVERLESS_PROMOTION_MIN_CLASS_ROWS: '50'
}

// Flex Consumption takes the runtime in functionAppConfig.runtime and refuses these two as app settings (and
// linuxFxVersion); Elastic Premium takes the runtime from them.
var premiumSettings = isFlex ? {} : {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'dotnet-isolated'
}
var premiumSiteConfig = isFlex ? {} : {
  linuxFxVersion: 'DOTNET-ISOLATED|10.0'
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    serverFarmId: hostingPlan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: union({
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }, premiumSiteConfig)
    functionAppConfig: isFlex ? {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainer}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: { instanceMemoryMB: 2048, maximumInstanceCount: 100 }
      runtime: { name: 'dotnet-isolated', version: '10.0' }
    } : null
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(appSettings, premiumSettings)
  }
}

output name string = app.name
output url string = 'https://${app.properties.defaultHostName}'
