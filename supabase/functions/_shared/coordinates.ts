// Coordinates in bodies (numbers) and in query strings (decimal text), shared
// by every area that takes a place on Earth (Wheels' places and camping
// search, Social's posts and nearby feed).
import { z } from './http.ts'

export const Latitude = z.number().min(-90).max(90).openapi({ example: -23.698 })
export const Longitude = z.number().min(-180).max(180).openapi({ example: 133.8807 })

/** Query coordinates: digits only ("1e2" and " 10" are not coordinates). */
const coordinate = (min: number, max: number, example: string) =>
  z.string().regex(/^-?\d{1,3}(\.\d{1,10})?$/, `a decimal number from ${min} to ${max}`)
    .transform(Number).pipe(z.number().min(min).max(max))
    .openapi({ type: 'number', minimum: min, maximum: max, example })
export const LatQuery = coordinate(-90, 90, '-23.698')
export const LngQuery = coordinate(-180, 180, '133.8807')
