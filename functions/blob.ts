/**
 * Registers the blob trigger: a template dropped into container `templates` (`{name}.json` or `{name}.pkr.hcl`)
 * starts a bake of it; every other blob there is a values file beside a template, or a drop Kiln refuses by name.
 */

import * as df from 'durable-functions';
import { handleTemplateDrop } from '../src/api/template-drop.ts';

df.app.client.storageBlob('templateDropped', {
  path: 'templates/{name}',
  connection: 'AzureWebJobsStorage',
  // Flex Consumption only delivers blob triggers through Event Grid; the local host polls the container either way.
  source: 'EventGrid',
  handler: handleTemplateDrop,
});
