// BlobCreated events of inbox-* containers, delivered by Event Grid to the ingest-events queue with the
// user-assigned identity (no queue key).
param name string
param location string
param tags object
param storageAccountId string
param identityId string
param queueName string

resource topic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = {
  name: name
  location: location
  tags: tags
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource inboxToQueue 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = {
  parent: topic
  name: 'inbox-blob-created'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [ 'Microsoft.Storage.BlobCreated' ]
      advancedFilters: [
        { operatorType: 'StringBeginsWith', key: 'subject', values: [ '/blobServices/default/containers/inbox-' ] }
      ]
    }
    deliveryWithResourceIdentity: {
      identity: { type: 'UserAssigned', userAssignedIdentity: identityId }
      destination: {
        endpointType: 'StorageQueue'
        properties: { resourceId: storageAccountId, queueName: queueName, queueMessageTimeToLiveInSeconds: 604800 }
      }
    }
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
  }
}
