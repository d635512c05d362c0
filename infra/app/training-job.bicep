// The GPU training job: a Container Apps environment with a serverless GPU workload profile and a manually
// triggered job running the training container as the user-assigned identity. TrainModel starts executions
// through ARM, merging each run's settings into this template's environment.
param environmentName string
param jobName string
param location string
param tags object
@allowed([ 'T4', 'A100' ])
param gpu string
param image string
param identityId string
param identityClientId string
param registryServer string
param logAnalyticsId string
param blobEndpoint string
param queueEndpoint string

var profiles = {
  T4: { type: 'Consumption-GPU-NC8as-T4', cpu: '8', memory: '56Gi' }
  A100: { type: 'Consumption-GPU-NC24-A100', cpu: '24', memory: '220Gi' }
}
var profile = profiles[gpu]

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: { destination: 'azure-monitor' }
    workloadProfiles: [
      { name: 'Consumption', workloadProfileType: 'Consumption' }
      { name: 'gpu', workloadProfileType: profile.type }
    ]
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs'
  scope: environment
  properties: {
    workspaceId: logAnalyticsId
    logs: [ { categoryGroup: 'allLogs', enabled: true } ]
  }
}

resource job 'Microsoft.App/jobs@2024-03-01' = {
  name: jobName
  location: location
  tags: tags
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    environmentId: environment.id
    workloadProfileName: 'gpu'
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: 14400
      replicaRetryLimit: 0
      manualTriggerConfig: { parallelism: 1, replicaCompletionCount: 1 }
      registries: [ { server: registryServer, identity: identityId } ]
    }
    template: {
      containers: [
        {
          name: 'trainer'
          image: image
          resources: { cpu: json(profile.cpu), memory: profile.memory }
          env: [
            { name: 'AzureWebJobsStorage__blobServiceUri', value: blobEndpoint }
            { name: 'AzureWebJobsStorage__queueServiceUri', value: queueEndpoint }
            { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
            { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
          ]
        }
      ]
    }
  }
}

output jobId string = job.id
output jobName string = job.name
