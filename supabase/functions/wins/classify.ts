// Category classification for an expense sent without one. In order:
//   1. learned: the category the user chose last time for the same merchant
//      (or description, when there is no merchant) — see pam.wins_match_key;
//   2. rule: a merchant name ("Shell", "KOA", "Woolworths"), then a keyword
//      ("diesel", "caravan park", "groceries"), matched as whole words in the
//      merchant and description, case-insensitively; the rules admins keep
//      (pam.expense_rules) before the built-in ones of their kind, so an admin
//      can add a merchant or word, or give a built-in one another category;
//   3. default: "other".
import type { BuiltinCategory } from './categories.ts'

export type CategorySource = 'user' | 'learned' | 'rule' | 'default'

export interface Classification {
  category: string
  source: Exclude<CategorySource, 'user'>
  /** The merchant or keyword that matched (rule), or the learned-from key. */
  matched: string | null
}

type Rules = [BuiltinCategory, string[]][]

// Merchants first: a brand says more than a word ("Coles Express" sells fuel).
export const MERCHANT_RULES: Rules = [
  ['fuel', [
    'shell', 'bp', 'caltex', 'ampol', 'mobil', 'coles express', 'reddy express', '7-eleven', 'united petroleum',
    'puma energy', 'liberty oil', 'metro petroleum', 'eg fuel', 'chevron', 'exxon', 'esso', 'texaco', 'speedway',
    'pilot flying j', "love's travel stop",
  ]],
  ['camping', [
    'koa', 'big4', 'big 4', 'discovery parks', 'top parks', 'nrma parks', 'reflections holiday parks',
    'g\'day parks', 'hipcamp', 'campendium', 'thousand trails',
  ]],
  ['food', [
    'woolworths', 'coles', 'aldi', 'iga', 'foodworks', 'spar', 'costco', 'drakes', 'harris farm', 'walmart',
    'kroger', 'safeway', 'trader joe\'s', 'whole foods', 'countdown', 'pak\'nsave', 'new world',
  ]],
  ['dining', [
    "mcdonald's", 'mcdonalds', 'kfc', 'subway', "hungry jack's", 'hungry jacks', "domino's", 'dominos',
    'starbucks', 'guzman y gomez', 'oporto', 'red rooster', 'pizza hut', 'nando\'s', 'tim hortons',
  ]],
  ['maintenance', [
    'repco', 'supercheap auto', 'autobarn', 'ultra tune', 'midas', 'bridgestone', 'beaurepaires', 'bob jane',
    'tyrepower', 'jax tyres', 'mycar', 'jiffy lube', 'autozone', 'o\'reilly auto',
  ]],
  ['insurance', ['aami', 'allianz', 'budget direct', 'youi', 'suncorp', 'geico', 'state farm', 'good sam insurance']],
  ['registration', ['service nsw', 'vicroads', 'tmr', 'dmv', 'transport for nsw', 'service sa']],
  ['tolls', ['linkt', 'e-toll', 'etoll', 'e-tag', 'etag', 'e-way', 'ez-pass', 'ezpass', 'spirit of tasmania', 'sealink']],
  ['utilities', ['elgas', 'swap n go', "swap'n'go", 'origin lpg', 'kleenheat']],
  ['connectivity', ['telstra', 'optus', 'vodafone', 'starlink', 'boost mobile', 'aldi mobile', 't-mobile', 'verizon', 'at&t']],
  ['entertainment', ['netflix', 'spotify', 'disney+', 'youtube premium', 'event cinemas', 'hoyts', 'ticketek', 'ticketmaster']],
  ['health', ['chemist warehouse', 'priceline pharmacy', 'terrywhite', 'amcal', 'walgreens', 'cvs pharmacy', 'medicare']],
]

export const KEYWORD_RULES: Rules = [
  ['fuel', ['fuel', 'diesel', 'petrol', 'unleaded', 'gasoline', 'servo', 'fill up', 'fill-up', 'adblue']],
  ['camping', [
    'caravan park', 'holiday park', 'tourist park', 'rv park', 'campground', 'campsite', 'camp site', 'camping',
    'camp fee', 'site fee', 'powered site', 'unpowered site', 'national park camping', 'showground',
  ]],
  ['food', ['groceries', 'grocery', 'supermarket', 'butcher', 'greengrocer', 'farmers market', 'fruit and veg']],
  ['dining', ['restaurant', 'cafe', 'café', 'coffee', 'flat white', 'latte', 'cappuccino', 'espresso', 'takeaway', 'take away', 'bistro', 'pub meal', 'pizza', 'burger', 'bakery', 'lunch', 'dinner', 'breakfast']],
  ['maintenance', [
    'mechanic', 'service', 'servicing', 'tyre', 'tyres', 'tire', 'tires', 'oil change', 'repair', 'repairs',
    'spare parts', 'battery', 'windscreen', 'brakes', 'wheel alignment',
  ]],
  ['insurance', ['insurance', 'premium', 'roadside assist', 'roadside assistance']],
  ['registration', ['rego', 'registration', 'ctp', 'licence', 'license', 'inspection', 'pink slip', 'safety certificate']],
  ['tolls', ['toll', 'tolls', 'ferry', 'bridge toll', 'barge']],
  ['utilities', ['propane', 'lpg', 'gas bottle', 'gas refill', 'butane', 'dump station', 'water refill', 'laundromat', 'laundry', 'electricity', 'power bill', 'showers']],
  ['connectivity', ['phone', 'mobile plan', 'internet', 'data plan', 'wifi', 'wi-fi', 'sim card', 'recharge', 'prepaid']],
  ['entertainment', ['cinema', 'movie', 'movies', 'museum', 'tour', 'concert', 'tickets', 'zoo', 'attraction', 'festival', 'park pass', 'entry fee', 'streaming']],
  ['health', ['pharmacy', 'chemist', 'doctor', 'gp', 'dentist', 'dental', 'medical', 'hospital', 'physio', 'prescription', 'optometrist']],
]

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const compile = (rules: Rules) =>
  rules.map(([category, words]) => ({
    category,
    words,
    // Whole words: not preceded or followed by a letter or digit.
    re: new RegExp(`(?<![\\p{L}\\p{N}])(${words.map(escape).join('|')})(?![\\p{L}\\p{N}])`, 'iu'),
  }))

const merchantRules = compile(MERCHANT_RULES)
const keywordRules = compile(KEYWORD_RULES)

/** The rules admins keep, compiled as the built-in ones are. */
export interface KeptRules {
  merchant: ReturnType<typeof compile>
  keyword: ReturnType<typeof compile>
}

/** Compiles rows of pam.expense_rules (kind, pattern, category), in the order given. */
export function compileKeptRules(rows: { kind: string; pattern: string; category: string }[]): KeptRules {
  const grouped = (kind: string) => {
    const byCategory = new Map<string, string[]>()
    for (const r of rows.filter((r) => r.kind === kind)) byCategory.set(r.category, [...byCategory.get(r.category) ?? [], r.pattern])
    return compile([...byCategory] as Rules)
  }
  return { merchant: grouped('merchant'), keyword: grouped('keyword') }
}

const NO_KEPT_RULES: KeptRules = { merchant: [], keyword: [] }

/** The rule-based category for a merchant and description, or null when nothing matches. */
export function classifyByRules(
  merchant: string | null | undefined,
  description: string | null | undefined,
  kept: KeptRules = NO_KEPT_RULES,
): Classification | null {
  const text = [merchant, description].filter(Boolean).join(' ').replace(/[’‘]/g, "'")
  if (!text.trim()) return null
  for (const rules of [kept.merchant, merchantRules, kept.keyword, keywordRules]) {
    for (const rule of rules) {
      const m = rule.re.exec(text)
      if (m) return { category: rule.category, source: 'rule', matched: m[1] }
    }
  }
  return null
}

/** Learned choice first, then the rules, then "other". */
export function classify(
  merchant: string | null | undefined,
  description: string | null | undefined,
  learned: { category: string; key: string } | null,
  kept: KeptRules = NO_KEPT_RULES,
): Classification {
  if (learned) return { category: learned.category, source: 'learned', matched: learned.key }
  return classifyByRules(merchant, description, kept) ?? { category: 'other', source: 'default', matched: null }
}
