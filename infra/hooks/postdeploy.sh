#!/bin/sh
# azd postdeploy hook: subscribes the templates blob trigger to Event Grid. It runs after the code is deployed
# because the blobs_extension key exists only once the runtime has loaded the trigger, and Event Grid validates
# the webhook when the subscription is created.
set -eu

eval "$(azd env get-values)"

key=$(az functionapp keys list -n "$AZURE_FUNCTION_APP_NAME" -g "$RESOURCE_GROUP" --query "systemKeys.blobs_extension" -o tsv)
endpoint="https://${AZURE_FUNCTION_APP_NAME}.azurewebsites.net/runtime/webhooks/blobs?functionName=Host.Functions.templateDropped&code=${key}"

az eventgrid system-topic event-subscription create \
  -n templates-created \
  -g "$RESOURCE_GROUP" \
  --system-topic-name "$TEMPLATES_EVENT_GRID_TOPIC" \
  --endpoint-type webhook \
  --endpoint "$endpoint" \
  --included-event-types Microsoft.Storage.BlobCreated \
  --subject-begins-with /blobServices/default/containers/templates/
