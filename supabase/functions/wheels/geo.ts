// Geometry for trip planning: decoding Mapbox's polyline6, great-circle
// distances, and the points where each day's drive ends along a route.
import type { LatLng } from '../_shared/integrations/mapbox.ts'

const EARTH_RADIUS_KM = 6371.0088
const rad = (d: number) => (d * Math.PI) / 180

/** Great-circle distance in km. */
export function haversineKm(a: LatLng, b: LatLng): number {
  const dLat = rad(b.lat - a.lat)
  const dLng = rad(b.lng - a.lng)
  const h = Math.sin(dLat / 2) ** 2 +
    Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)))
}

/** Decodes an encoded polyline (Google's algorithm; Mapbox's polyline6 has precision 6). */
export function decodePolyline(encoded: string, precision = 6): LatLng[] {
  const factor = 10 ** precision
  const points: LatLng[] = []
  let index = 0
  let lat = 0
  let lng = 0
  const next = () => {
    let result = 0
    let shift = 0
    let byte: number
    do {
      if (index >= encoded.length) throw new Error('truncated polyline')
      byte = encoded.charCodeAt(index++) - 63
      result |= (byte & 0x1f) << shift
      shift += 5
    } while (byte >= 0x20)
    return result & 1 ? ~(result >> 1) : result >> 1
  }
  while (index < encoded.length) {
    lat += next()
    lng += next()
    points.push({ lat: lat / factor, lng: lng / factor })
  }
  return points
}

/** Points spread along the great circle from a to b, for a route Mapbox could not give. */
export function straightLine(a: LatLng, b: LatLng, segments = 64): LatLng[] {
  return Array.from({ length: segments + 1 }, (_, i) => ({
    lat: a.lat + ((b.lat - a.lat) * i) / segments,
    lng: a.lng + ((b.lng - a.lng) * i) / segments,
  }))
}

/** Where the route's length first reaches each of `marksKm` (km along the route from its start). */
export function pointsAlong(route: LatLng[], marksKm: number[]): LatLng[] {
  const out: LatLng[] = []
  let done = 0
  let k = 0
  for (let i = 1; i < route.length && k < marksKm.length; i++) {
    const step = haversineKm(route[i - 1], route[i])
    while (k < marksKm.length && done + step >= marksKm[k]) {
      const t = step > 0 ? (marksKm[k] - done) / step : 0
      out.push({
        lat: route[i - 1].lat + (route[i].lat - route[i - 1].lat) * t,
        lng: route[i - 1].lng + (route[i].lng - route[i - 1].lng) * t,
      })
      k++
    }
    done += step
  }
  while (out.length < marksKm.length) out.push(route[route.length - 1])
  return out
}

/** Length of a polyline in km. */
export const lengthKm = (route: LatLng[]) =>
  route.slice(1).reduce((s, p, i) => s + haversineKm(route[i], p), 0)
