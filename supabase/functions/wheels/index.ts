// wheels: travel and the vehicle — vehicles, maintenance and what is due,
// fill-ups and fuel economy, trips with routes and day-by-day plans, saved
// places, the campsite directory with reviews, geocoding and weather. Every
// route is the signed-in user's own data through the RLS-scoped
// c.var.postgres (the campsite directory is shared, read-only, reference
// data). Mapbox and Open-Meteo are reached through _shared/integrations.
import { createApp } from '../_shared/http.ts'
import type { App } from '../_shared/http.ts'
import { type Config, getConfig } from '../_shared/config.ts'
import { registerCampingRoutes } from './camping.ts'
import type { WheelsOptions } from './common.ts'
import { registerFuelRoutes } from './fuel.ts'
import { registerLookupRoutes } from './lookups.ts'
import { registerMaintenanceRoutes } from './maintenance.ts'
import { registerPlaceRoutes } from './places.ts'
import { registerTripRoutes } from './trips.ts'
import { registerVehicleRoutes } from './vehicles.ts'

/** Wheels bodies are small; a trip with 23 stops and notes fits well within this. */
export const MAX_JSON_BODY_BYTES = 64 * 1024

export function createWheelsApp(
  config: Config = getConfig(),
  options: Partial<WheelsOptions> = {},
): App {
  const opts: WheelsOptions = { now: () => new Date(), ...options }
  const app = createApp(
    'wheels',
    config,
    'Travel and the vehicle: vehicles, maintenance, fuel, trips and routes, places, campsites, geocoding, weather.',
    { maxBodyBytes: MAX_JSON_BODY_BYTES },
  )
  registerVehicleRoutes(app)
  registerMaintenanceRoutes(app, opts)
  registerFuelRoutes(app, opts)
  registerTripRoutes(app)
  registerPlaceRoutes(app)
  registerCampingRoutes(app)
  registerLookupRoutes(app)
  return app
}

let app: App | undefined
export const handler = (req: Request, info?: Deno.ServeHandlerInfo) =>
  (app ??= createWheelsApp()).fetch(req, info)

if (import.meta.main) Deno.serve(handler)
