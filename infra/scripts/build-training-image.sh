#!/usr/bin/env sh
# postprovision hook: builds training-container/Dockerfile in the registry (ACR Tasks: no local Docker engine
# needed) and points the training job at the new image. Uses the outputs of infra/main.bicep that azd exports.
set -eu
: "${AZURE_CONTAINER_REGISTRY_NAME:?run through azd (it sets the Bicep outputs)}"
TAG="$(git rev-parse --short HEAD 2>/dev/null || date +%Y%m%d%H%M%S)"
IMAGE="$AZURE_CONTAINER_REGISTRY_ENDPOINT/finserverless-trainer:$TAG"
echo "building $IMAGE in $AZURE_CONTAINER_REGISTRY_NAME (takes several minutes: CUDA base image, libtorch, XGBoost)"
az acr build --registry "$AZURE_CONTAINER_REGISTRY_NAME" --image "finserverless-trainer:$TAG" --file training-container/Dockerfile .
az containerapp job update --name "$TRAINING_JOB_NAME" --resource-group "$AZURE_RESOURCE_GROUP" --image "$IMAGE" --output none
echo "training job $TRAINING_JOB_NAME now runs $IMAGE"
