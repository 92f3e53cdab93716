/** Registers the blob trigger: dropping `{name}.json` into container `templates` starts a bake of it. */

import * as df from 'durable-functions';
import { handleTemplateDrop } from '../src/api/template-drop.ts';

df.app.client.storageBlob('templateDropped', {
  path: 'templates/{name}.json',
  connection: 'AzureWebJobsStorage',
  // Flex Consumption only delivers blob triggers through Event Grid; the local host polls the container either way.
  source: 'EventGrid',
  handler: handleTemplateDrop,
});
