// Fuel consumption, measured the way a fuel card or a notebook does it:
// between two full tanks, the fuel that went in (every fill after the first
// full tank, partial fills included, up to and including the second) over
// the distance between their odometer readings. Fills before the first full
// tank, after the last one, or without an odometer reading measure nothing.
// Volumes are litres; distances are in the vehicle's unit, converted to km.

export const KM_PER_MILE = 1.609344
const LITRES_PER_US_GALLON = 3.785411784
const LITRES_PER_IMPERIAL_GALLON = 4.54609

export interface Fill {
  odometer: number | null
  litres: number
  full: boolean
  /** Cost in cents in the home currency; null when paid in another currency. */
  cents: bigint | null
}

export interface Consumption {
  distance_km: number
  litres: number
  l_per_100km: number
  km_per_l: number
  mpg_us: number
  mpg_imperial: number
  /** Fuel cost per km over the measured distance; null when a measured fill was in another currency. */
  cost_per_km_cents: number | null
  full_tank_intervals: number
}

/** Consumption from one vehicle's fills in odometer order; null without two full tanks a distance apart. */
export function consumption(fills: Fill[], unit: 'km' | 'mi'): Consumption | null {
  let anchor: number | null = null
  let pendingLitres = 0
  let pendingCents: bigint | null = 0n
  let distance = 0
  let litres = 0
  let cents: bigint | null = 0n
  let intervals = 0
  for (const f of fills) {
    if (f.odometer === null) continue
    if (anchor === null) {
      if (f.full) anchor = f.odometer
      continue
    }
    pendingLitres += f.litres
    pendingCents = pendingCents === null || f.cents === null ? null : pendingCents + f.cents
    if (!f.full) continue
    if (f.odometer > anchor) {
      distance += f.odometer - anchor
      litres += pendingLitres
      cents = cents === null || pendingCents === null ? null : cents + pendingCents
      intervals++
    }
    anchor = f.odometer
    pendingLitres = 0
    pendingCents = 0n
  }
  if (!intervals || distance <= 0 || litres <= 0) return null
  const km = unit === 'mi' ? distance * KM_PER_MILE : distance
  const miles = km / KM_PER_MILE
  return {
    distance_km: round(km, 1),
    litres: round(litres, 2),
    l_per_100km: round((litres / km) * 100, 2),
    km_per_l: round(km / litres, 2),
    mpg_us: round(miles / (litres / LITRES_PER_US_GALLON), 1),
    mpg_imperial: round(miles / (litres / LITRES_PER_IMPERIAL_GALLON), 1),
    cost_per_km_cents: cents === null ? null : round(Number(cents) / km, 2),
    full_tank_intervals: intervals,
  }
}

const round = (n: number, places: number) => Math.round(n * 10 ** places) / 10 ** places

/** Litres per 100 km assumed for a vehicle type until its own fills measure it. */
export const TYPICAL_L_PER_100KM: Record<string, number> = {
  motorhome: 17,
  caravan: 16, // a tow vehicle pulling it
  campervan: 12,
  fifth_wheel: 20,
  tow_vehicle: 16,
  other: 14,
}
