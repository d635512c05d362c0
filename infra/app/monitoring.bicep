// Log Analytics and Application Insights (local authentication off: telemetry is sent with the managed identity).
param logAnalyticsName string
param appInsightsName string
param location string
param tags object

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    DisableLocalAuth: true
  }
}

output logAnalyticsId string = logs.id
output appInsightsName string = insights.name
// Not a credential: with local authentication disabled, ingestion needs an Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
output appInsightsConnectionString string = insights.properties.ConnectionString
