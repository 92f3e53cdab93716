/** Registers Kiln's HTTP API (docs/design.md §6); handlers live in src/api. */

import * as df from 'durable-functions';
import { ALL_METHODS, byMethod, type RouteHandler } from '../src/api/dispatch.ts';
import {
  approveBuild, cancelBuild, getBuild, getBuildLogs, listBuilds, postBuild, retryBuild,
} from '../src/api/builds.ts';
import { getBuildTimeline, getDashboardFile, getDashboardPage, listSchedules } from '../src/api/dashboard.ts';
import { deleteTemplate, getTemplate, listTemplates, putTemplate } from '../src/api/templates.ts';
import { putUpload } from '../src/api/uploads.ts';

// Every route takes every method, so a wrong method is answered 405 by Kiln (Azure's host would say 404).
function route(name: string, path: string, handler: RouteHandler, authLevel: 'function' | 'anonymous' = 'function'): void {
  df.app.client.http(name, { route: path, methods: ALL_METHODS, authLevel, handler });
}

route('builds', 'builds', byMethod({ GET: listBuilds, POST: postBuild }));
route('build', 'builds/{id}', byMethod({ GET: getBuild }));
route('buildLogs', 'builds/{id}/logs', byMethod({ GET: getBuildLogs }));
route('cancelBuild', 'builds/{id}/cancel', byMethod({ POST: cancelBuild }));
route('approveBuild', 'builds/{id}/approve', byMethod({ POST: approveBuild }));
route('retryBuild', 'builds/{id}/retry', byMethod({ POST: retryBuild }));
route('buildTimeline', 'builds/{id}/timeline', byMethod({ GET: getBuildTimeline }));
route('schedules', 'schedules', byMethod({ GET: listSchedules }));
// The page only asks for the key; its code and data are behind it (src/api/dashboard.ts).
route('dashboard', 'dashboard', byMethod({ GET: getDashboardPage }), 'anonymous');
route('dashboardFiles', 'dashboard/files/{*path}', byMethod({ GET: getDashboardFile }));
route('templates', 'templates', byMethod({ GET: listTemplates }));
route('template', 'templates/{name}', byMethod({ GET: getTemplate, PUT: putTemplate, DELETE: deleteTemplate }));
route('upload', 'uploads/{sha256}', byMethod({ PUT: putUpload }));
