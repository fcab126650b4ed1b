// PAM's intent classifier: what a chat message asks for, without a model.
// `classify(message, { today, locale?, timeZone? })` → { intent, confidence, entities }.
//
// How it works, in four steps, all synchronous and deterministic:
//
// 1. Normalise: lower case, straight quotes, "&" → "and", contractions opened
//    ("what's" → "what is", "don't" → "do not"), chat shorthand ("tmrw",
//    "pls", "u", "arvo") and frequent typos ("spnt", "fule", "diesal",
//    "maintanence", "wether", "buget") corrected from a table; a word still
//    unknown that is one edit (two for long words) from a domain word with the
//    same first letter is taken for it ("servce" → "service"), with a short
//    list of real words that must stay ("patrol", not "petrol").
// 2. Entities (entities.ts): money, day, period, distance, volume, fuel price,
//    odometer, places, merchant, category. Numbers come from the normalised
//    text, places and merchants from the message as typed (they need capitals).
// 3. Score: every intent adds the weights of its patterns that match the
//    normalised text (RULES, below), then of the entities and of the message's
//    shape (question or statement, spending verb, length) in `entityScores`.
//    The weights are small integers and halves chosen by reading messages,
//    not fitted: a strong cue is 3–4, a supporting word 1–2, a contradiction
//    negative (a question takes points off logging intents; a spending verb
//    takes them off "find a campsite").
// 4. Decide: the best score wins if it reaches MIN_SCORE, else `unknown`.
//    Confidence = strength × (0.35 + 0.65 × margin), where strength =
//    1 − e^(−best/3) grows with the evidence and margin = (best − runner-up) / best
//    is how clearly it beat the next intent; two intents tied give about a third
//    of the strength. For `unknown` it is how far the best score fell short.
//
// Conventions where messages are ambiguous: a fill-up (a volume, "filled up", a
// price per litre, or a fuel word with an amount and no spending verb: "diesel
// $95 at the BP") is log_fuel, because a fill-up wants litres and odometer; an
// amount spent *on* fuel ("spent 80 on fuel") is add_expense, category fuel. A
// maintenance job done is log_maintenance even with a cost. Dates in weather and
// trip messages are read forward ("on Saturday" is the next one), elsewhere back.
//
// Cost: one normalisation pass, some 140 precompiled regular expressions, the
// entity scan; about 0.1 ms per message on the test tables (the test prints it).
import {
  type Entities,
  entitiesOf,
  extractDate,
  type Scan,
  scanEntities,
} from './entities.ts'

export const INTENTS = [
  'add_expense',
  'add_income',
  'spending_summary',
  'budget_status',
  'set_budget',
  'savings_goal',
  'log_fuel',
  'log_maintenance',
  'maintenance_due',
  'plan_trip',
  'find_camping',
  'weather',
  'saved_places',
  'social_post',
  'social_feed',
  'calendar',
  'remember',
  'forget',
  'insights',
  'greeting',
  'help',
  'unknown',
] as const

export type Intent = typeof INTENTS[number]
type Scored = Exclude<Intent, 'unknown'>

export interface ClassifyOptions {
  /** The user's local day, YYYY-MM-DD: relative dates count from it. */
  today: string
  /** BCP 47, e.g. "en-AU" (default), "en-US": day/month order, "gas", "150k". */
  locale?: string
  /** IANA zone; when no locale is given, a US zone means en-US. */
  timeZone?: string
}

export interface Classification {
  intent: Intent
  /** 0..1: how strongly and how clearly the intent won. */
  confidence: number
  entities: Entities
}

/** Below this best score the message is `unknown`. */
export const MIN_SCORE = 2.5
/** Only the start of a longer message is read: chat messages are short, and the cost stays bounded. */
export const MAX_CHARS = 2000

// ---------------------------------------------------------------- 1. normalise

// Whole-word replacements: chat shorthand and the typos seen most in
// messages about money, fuel, the vehicle and the weather.
const REPLACEMENTS: Record<string, string> = {
  // shorthand
  u: 'you', ur: 'your', r: 'are', pls: 'please', plz: 'please', thx: 'thanks', ty: 'thanks', tmrw: 'tomorrow',
  tmr: 'tomorrow', tomoz: 'tomorrow', '2moro': 'tomorrow', '2morrow': 'tomorrow', tomorow: 'tomorrow', arvo: 'afternoon',
  gonna: 'going to', wanna: 'want to', gotta: 'got to', wen: 'when', wat: 'what', hw: 'how', cuz: 'because',
  im: 'i am', ive: 'i have', whats: 'what is', hows: 'how is', wheres: 'where is', whens: 'when is', dont: 'do not',
  didnt: 'did not', cant: 'can not', wont: 'will not', isnt: 'is not', thats: 'that is', lemme: 'let me',
  woolies: 'woolworths', maccas: 'mcdonalds', brekky: 'breakfast', brekkie: 'breakfast', servo: 'servo',
  ltr: 'litres', ltrs: 'litres', liters: 'litres', liter: 'litre', litre: 'litre', kms: 'km', "k's": 'km',
  // typos
  spnt: 'spent', spnet: 'spent', sepnt: 'spent', spendt: 'spent', spnd: 'spend', spedn: 'spend', sped: 'spent',
  fule: 'fuel', feul: 'fuel', fual: 'fuel', fuell: 'fuel', diesal: 'diesel', deisel: 'diesel', desiel: 'diesel',
  diesle: 'diesel', deisal: 'diesel', disel: 'diesel', petorl: 'petrol', petrl: 'petrol', unleadded: 'unleaded',
  maintanence: 'maintenance', maintainance: 'maintenance', maintenence: 'maintenance', maintenace: 'maintenance',
  maintence: 'maintenance', maintanance: 'maintenance', maintainence: 'maintenance', mantenance: 'maintenance',
  wether: 'weather', weahter: 'weather', wheather: 'weather', weater: 'weather', wheater: 'weather',
  forcast: 'forecast', forcaste: 'forecast', buget: 'budget', budjet: 'budget', budgit: 'budget', bugdet: 'budget',
  campsight: 'campsite', campsights: 'campsites', campgound: 'campground', groceris: 'groceries', grocerys: 'groceries',
  grocceries: 'groceries', servise: 'service', sevice: 'service', servce: 'service', serivce: 'service',
  remeber: 'remember', rember: 'remember', remembr: 'remember', forgt: 'forget', foget: 'forget', savigns: 'savings',
  expence: 'expense', expences: 'expenses', recieved: 'received', earnt: 'earned', tyers: 'tyres', tires: 'tyres',
  tire: 'tyre', windey: 'windy', raning: 'raining', reigo: 'rego',
}

// A word not in the table, one edit from one of these (two for eight letters and
// more), with the same first letter, is read as it.
const VOCABULARY = [
  'spent', 'spend', 'spending', 'paid', 'bought', 'expense', 'expenses', 'income', 'earned', 'budget', 'budgets',
  'savings', 'goal', 'summary', 'groceries', 'fuel', 'diesel', 'petrol', 'unleaded', 'litres', 'filled', 'service',
  'serviced', 'maintenance', 'mechanic', 'registration', 'insurance', 'tyres', 'brakes', 'battery', 'weather',
  'forecast', 'raining', 'windy', 'temperature', 'campsite', 'campsites', 'campground', 'camping', 'caravan',
  'remember', 'forget', 'favourite', 'favourites', 'itinerary', 'route', 'travelling', 'overdue', 'insights',
  'overview', 'restaurant', 'odometer', 'kilometres', 'tomorrow', 'yesterday', 'weekend', 'vegetarian',
]
// Real words one edit from the vocabulary that must not be corrected.
const KEEP = new Set([
  'patrol', 'paid', 'pain', 'said', 'spend', 'spent', 'speed', 'spell', 'fuels', 'feel', 'fool', 'full', 'fund', 'funds',
  'goat', 'goals', 'coal', 'routes', 'router', 'brake', 'bakes', 'savings', 'saving', 'serve', 'served', 'services',
  'servicing', 'wetter', 'whether', 'weathered', 'budge', 'camped', 'camper', 'campers', 'forgot', 'forgets', 'forged',
  'remembered', 'remembers', 'income', 'incomes', 'tyre', 'tyred', 'tired', 'tries', 'litre', 'filler', 'filed',
  'fillet', 'filter', 'tomorrows', 'weekends', 'diesels', 'petrols', 'batter', 'mechanics', 'overview', 'summery',
  'windy', 'winds', 'rained', 'reining', 'spends', 'caravans', 'campsite', 'budgets', 'expensed', 'bought', 'brought',
  'routine', 'goal', 'gaol', 'travellers', 'travelers', 'sending', 'types', 'scent', 'fuel', 'fell', 'savings', 'sevens', 'insight', 'overdo', 'overdone', 'unloaded',
])
const VOCAB_SET = new Set(VOCABULARY)

/** Damerau–Levenshtein distance, giving up above `max`. */
function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1
  const rows: number[][] = []
  for (let i = 0; i <= a.length; i++) {
    rows.push([i])
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0].push(j)
        continue
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2][j - 2] + 1)
      rows[i].push(d)
    }
    if (i > 0 && Math.min(...rows[i]) > max) return max + 1
  }
  return rows[a.length][b.length]
}

const corrections = new Map<string, string>()

/** A word corrected to the vocabulary, or itself. Cached (bounded). */
function correct(word: string): string {
  if (word.length < 5 || VOCAB_SET.has(word) || KEEP.has(word) || !/^[a-z]+$/.test(word)) return word
  const known = corrections.get(word)
  if (known !== undefined) return known
  let best = word
  let bestDistance = Infinity
  for (const v of VOCABULARY) {
    if (v[0] !== word[0]) continue
    const max = v.length >= 8 ? 2 : 1
    const d = editDistance(word, v, max)
    if (d <= max && d < bestDistance) [best, bestDistance] = [v, d]
  }
  if (corrections.size < 5000) corrections.set(word, best)
  return best
}

/** The message in lower case, with contractions opened and shorthand and typos corrected. */
export function normalise(message: string): string {
  const text = message.normalize('NFKC').toLowerCase()
    .replace(/[’‘`]/g, "'").replace(/[“”]/g, '"').replace(/&/g, ' and ')
    .replace(/\b(what|how|where|when|who|that|there|it|he|she)'s\b/g, '$1 is')
    .replace(/\bi'm\b/g, 'i am').replace(/\b(we|you|they)'re\b/g, '$1 are')
    .replace(/\bcan't\b/g, 'can not').replace(/\bwon't\b/g, 'will not').replace(/n't\b/g, ' not')
    .replace(/'ll\b/g, ' will').replace(/'ve\b/g, ' have')
  return text.replace(/[a-z0-9'$]+/g, (w) => REPLACEMENTS[w] ?? correct(w)).replace(/\s+/g, ' ').trim()
}

// ---------------------------------------------------------------- 3. score

type Rule = readonly [RegExp, number]

const SPEND_VERB = /\b(spent|spend|paid|pay|bought|buy|dropped|blew|forked out|shelled out|splurged|purchased|got charged|was charged|charged|set me back|cost me|cost us|grabbed)\b/
// Done, not planned: "spent 80", not "want to spend no more than 300".
const SPENT_VERB = /\b(spent|paid|bought|dropped|blew|forked out|shelled out|splurged|purchased|got charged|was charged|charged|set me back|cost me|cost us|grabbed)\b/
const FUEL_WORD = /\b(fuel|diesel|petrol|unleaded|gas|premium|e10|lpg|adblue|servo)\b/
const FILL_UP = /\b(filled up|fill up|fill-up|fillup|fill(ed)? (her|it|the tank|the van|the truck|the ute|the car)|filled the|fuell?ed up|fuell?ed|refuell?ed|refuel|topped up|top(ped)?[- ]?up|gassed up|tanked up|brimmed)\b/
const TASK = String.raw`(oil change|oil|service|serviced|servicing|tyres?|brakes?|brake pads|battery|filters?|fan belt|belt|wheel bearings?|bearings?|alignment|anode|grease|coolant|spark plugs?|shocks?|suspension|windscreen|wipers?|clutch|radiator|radiator hoses?|water pump|pump|leaks?|leaking|hitch|awning|seals?|inverter|alternator|starter motor|exhaust|roadworthy|inspection|rego|registration|maintenance|aircon|air con|gearbox|transmission|injectors?|glow plugs?)`
const TASK_WORD = new RegExp(String.raw`\b${TASK}\b`)
const DONE_VERB = /\b(had|got|did|done|replaced|changed|fitted|rotated|repacked|serviced|fixed|repaired|installed|swapped|adjusted|greased|flushed|put on|sorted)\b/
const QUESTION_START = /^(how|what|when|where|which|who|why|is|are|am|(do|does|did)(?! not\b)|can|could|should|will|would|any|have|has|whats|hows)\b/
const CAMP_WORD = /\b(camp|camps|camping|campsite|campsites|campground|campgrounds|free ?camp\w*|freedom camping|caravan parks?|holiday parks?|tourist parks?|rv parks?|rest (area|stop)s?|powered sites?|unpowered sites?|bush ?camp\w*|dump (point|station)s?|showgrounds?|overnight(er)? (spot|stop))\b/

const RULES: Record<Scored, Rule[]> = {
  add_expense: [
    [SPENT_VERB, 2],
    [/\b(add|log|record|enter|note down|put (in|down))\b.{0,20}\b(an? )?(expense|purchase|spend|cost|receipt|fee|bill|payment)\b/, 3],
    [/^(expense|purchase)\b/, 3],
    [/^(log|record|add|enter)\b.{0,5}\$?\d/, 2],
    // "NZ$85 for the ferry", "45 bucks at Maccas": an amount, then what or where.
    [/^[a-z$€£]{0,4}\d[\d.,]*k? ?(bucks|dollars|quid|aud|usd|nzd)? (for|on|at)\b/, 1.5],
    [/\bwas \$?\d/, 1],
    [/\b(were|was|cost) \$?\d/, 1],
  ],
  add_income: [
    [/\b(earned|earn|earning|got paid|get paid|been paid|paid (me|us)|pays (me|us)|received|income|wages?|salary|payday|pay day|pension|tips|invoice paid|client paid|came in)\b/, 3],
    [/\b(add|log|record)\b.{0,10}\bincome\b/, 2],
    [/\bpaid by\b/, 2],
    [/\b(paid out|came through|pay from|payment from|paid into my)\b/, 2.5],
    [/\bgot \$?\d[\d.,]*k? ?(bucks |dollars )?(for|from)\b/, 2.5],
  ],
  spending_summary: [
    // Not "how much can I still spend" (a budget) nor "how much more" (a goal).
    [/\bhow much\b(?! (can|could|should|more)\b).{0,30}\b(spen[dt]|spending|cost|costs|costing|paid|pay|gone on|go on|blown|blew)\b/, 4.5],
    [/\bhow much (was|were|is|are|did|on|for)\b/, 2],
    [/\bwhat (did|have|has|does|do)\b.{0,25}\b(cost|costs|spen[dt]|paid)\b/, 4.5],
    [/\b(my|our|total|show|list|biggest|largest|top)\b.{0,15}\b(spending|expenses|spend|cost|costs|outgoings)\b/, 3],
    [/\bbreakdown\b/, 3],
    [/\bwhere\b.{0,20}\bmoney\b.{0,6}\b(going|gone|go|went)\b/, 4],
    [/\b(spending|expenses)\b.{0,25}\b(this|last|so far)\b/, 1],
  ],
  budget_status: [
    [/\bbudgets?\b/, 2],
    [/\b(over|under|within|on track|blow|blown|busted|blew)\b.{0,20}\bbudgets?\b/, 2],
    [/\bbudgets?\b.{0,12}\b(check|status|looking|left|remaining|going|doing)\b/, 2],
    [/\b(left|remaining)\b.{0,25}\bbudget\b/, 2],
    [/\bhow much (can|could) (i|we) (still )?spend\b/, 4],
    [/\bcan (i|we) afford\b/, 4],
    [/\bhow close\b.{0,20}\b(limit|budget)\b/, 3],
  ],
  set_budget: [
    [/\b(set|make|change|update|increase|raise|lower|reduce|drop|create|new|adjust|bump|put)\b.{0,30}\bbudget\b/, 3.5],
    [/\bbudget\b.{0,30}\bto \$?\d/, 2],
    [/\bbudget (of|at|is) \$?\d/, 1.5],
    [/^budget \$?\d/, 3],
    [/\b(no more than|at most|not more than|maximum of|max of)\b.{0,25}\d/, 3.5],
    [/\b(limit|cap)\b.{0,30}\b(to|at) \$?\d/, 3.5],
    [/\b(keep|stay|stick)\b.{0,25}\b(under|below|within)\b.{0,5}\$?\d/, 3.5],
  ],
  savings_goal: [
    [/\b(savings?|saved|save up|save for)\b/, 2],
    [/\bgoals?\b/, 2.5],
    [/\b(fund|kitty|nest egg)\b/, 2],
    [/\b(want|need|trying|plan(ning)?) to save\b/, 2],
    [/\b(put|add|move|deposit|transfer|chuck|stash|throw|pop)\b.{0,30}\b(towards?|into|to)\b.{0,30}\b(goal|fund|savings|kitty)\b/, 2],
    [/\bhow (close|far)\b.{0,15}\b(am|are) (i|we)\b/, 1],
    [/\bhow much more\b/, 1],
    [/\bhow much (have|did|has) (i|we)\b.{0,6}\bsaved\b/, 3],
    [/\b(savings?|goals?|fund)\b.{0,15}\b(progress|going|looking|tracking)\b|\bprogress\b.{0,20}\b(savings|goals?|fund)\b/, 2],
    [/\b(take|took|withdraw|withdrew|pull|pulled)\b.{0,25}\b(out of|from)\b.{0,25}\b(fund|savings|goal|kitty)\b/, 2],
    [/\b(start|create|set up|new|make)\b.{0,15}\bgoal\b/, 1.5],
  ],
  log_fuel: [
    [FILL_UP, 3],
    [/\b(log|add|record) (a )?(fuel|fill)/, 2],
    [/\bfull tank\b|\bhalf tank\b/, 1],
    [FUEL_WORD, 1.5],
  ],
  log_maintenance: [
    [TASK_WORD, 1.5],
    [DONE_VERB, 1],
    [new RegExp(String.raw`\b(had|got|did|done|replaced|changed|fitted|rotated|repacked|fixed|repaired|installed|swapped|adjusted|greased|flushed|sorted)\b.{0,30}\b${TASK}\b`), 2],
    [new RegExp(String.raw`\b${TASK}\b.{0,25}\b(done|changed|replaced|fitted|rotated|repacked|fixed|repaired|adjusted|sorted)\b`), 2],
    [/\b(serviced|repacked|rotated)\b/, 1.5],
    [/\b(log|record|add)\b.{0,10}\b(maintenance|service|repair)\b/, 3],
    [/\bmechanic\b/, 1],
  ],
  maintenance_due: [
    [/\b(due|overdue|coming up|upcoming)\b/, 2.5],
    [new RegExp(String.raw`\bwhen\b.{0,30}\b${TASK}`), 2],
    [new RegExp(String.raw`\b(need|needs|time for)\b.{0,25}\b${TASK}`), 1.5],
    [/\bhow (many|long|far)\b.{0,30}\b(until|till|til|before)\b/, 2.5],
    [/\bnext (service|job|maintenance|oil change)\b/, 2.5],
  ],
  plan_trip: [
    [/\b(plan(ning|ned)?|map out|mapping out)\b/, 2],
    [/\b(trip|road trip|route|journey|drive|driving|directions|leg|stops)\b/, 1.5],
    [/\bitinerary\b/, 3],
    [/\bhow (far|long)\b.{0,40}\b(from|to|drive|get)\b/, 2.5],
    [/\b(best|quickest|fastest|shortest) (way|route)\b/, 3],
    [/\bheading (to|up|down|north|south|east|west)\b/, 1.5],
    [/\bhow many days\b/, 1],
  ],
  find_camping: [
    [CAMP_WORD, 2.5],
    [/\b(stay|sleep|park up|pull up|pull over|spend the night|overnight|crash)\b/, 1.5],
    [/\b(where|somewhere|find|need|nearest|near|around|close to|show me|looking for|recommend)\b/, 1],
    [/\b(tonight|for the night)\b/, 1],
    [/\bspots?\b/, 0.5],
  ],
  weather: [
    [/\b(weather|forecast)\b/, 4],
    [/\b(rain|raining|rainy|rains|wind|windy|winds|gusts?|gusty|storms?|stormy|thunder\w*|temperature|temps?|frost|frosty|snow|snowing|hail|cyclone|heatwave|sunny|cloudy|humid|humidity|degrees|uv|bom|freezing)\b/, 3],
    [/\b(hot|cold|warm|chilly)\b/, 1],
    [/\b(how|too) (hot|cold|windy|wet)\b/, 2],
    [/\bchance of\b/, 1],
    [/\bwill it (be|get|hit|reach) ((over|above|under|below) )?\d{1,2}\b/, 3],
    [/\b(flood|floods|flooding)\b/, 2],
  ],
  saved_places: [
    [/\bsaved (places?|spots?|locations?|list|sites?)\b/, 4],
    [/\b(places?|spots?|locations?)\b.{0,20}\b(i|we)\b.{0,10}\bsaved\b/, 4],
    [/\b(spot|place|location)\b.{0,30}\b(we|i) saved\b/, 3],
    [/\b(save|bookmark|pin|favourite|favorite|star)\b.{0,25}\b(spot|place|location|campsite|site|this)\b/, 3.5],
    [/\bmy (places|spots|favourites|favorites|favourite spots|favorite spots|favourite places)\b/, 3.5],
    [/\b(to|from|in) (my )?(places|favourites|favorites|saved)\b/, 3],
  ],
  social_post: [
    [/^(please |can you |could you |pam )?(post|share|publish|write|create|tell|let|announce)\b/, 2],
    [/\b(post|share|publish)\b.{0,60}\b(group|feed|community|followers|friends|everyone|social)\b/, 3],
    [/\b(write|create|make|put up|draft) (a|an|my) (post|update)\b/, 3.5],
    [/\b(post|share) (this|that|a photo|a pic|my|an update|the)\b/, 2.5],
    [/\btell (the|my) (group|followers|friends|community)\b/, 3.5],
    [/\btell (the |my |our )?([\w'&-]+ ){1,4}group\b/, 3.5],
    [/\blet (everyone|everybody|the group|people|folks|the community) know\b/, 3.5],
  ],
  social_feed: [
    [/\bfeed\b/, 2.5],
    [/\bposts\b/, 3],
    [/\b(posting|posted)\b/, 2],
    [/\b(what|who|anyone|anybody|people|others)\b.{0,30}\b(posting|posted)\b/, 2],
    [/\b(what is|anything) (new|happening)\b/, 2],
    [/\b(news|updates)\b.{0,20}\b(group|community|feed|friends)\b/, 2],
    [/\b(group|community|friends|followers|social)\b/, 1],
    [/\b(been up to|any news)\b/, 2],
  ],
  calendar: [
    [/^(please |pam,? |hey pam,? )?remind me\b/, 5.5],
    [/\b(add|put|schedule|pencil|book)\b.{0,40}\b(in(to)? )?(my |the )?(calendar|diary|schedule|agenda)\b/, 4.5],
    [/\bwhat (is|have i got|do i have|do we have|have we got) on\b|\bwhat is coming up\b/, 4.5],
    [/\b(my |the )?(calendar|agenda|diary)\b/, 3],
    [/\b(appointments?|meetings?|reminders?|events?)\b/, 3],
    [/^(please )?(move|reschedule|postpone|shift|push back|bring forward)\b/, 3],
    [/^(please )?(cancel|call off|scrap)\b/, 3],
    [/\b(reschedule|postpone)\b/, 2],
  ],
  remember: [
    // Said first, these decide: "keep in mind we need powered sites" is not a campsite search.
    [/^(please )?remember\b|(?<!\bnot )\bremember (that|this)\b/, 5],
    [/^(note that|note:|fyi|for future reference|just so you know|bear in mind|keep in mind|for the record)\b|\b(keep in mind|do not forget)\b/, 5],
    // Not "we are driving to Exmouth": a fact, not a plan in progress.
    [/^(fyi )?(i|we) ((am|are)(?! \w+ing\b)|drive|have|own|travel|prefer|like|love|hate|avoid|do not|never|always|usually|tow|eat|use|live|run|dislike|only)\b/, 3],
    [/^(fyi )?(i|we) (am|are) (a |an )?(vegetarian|vegan|allergic|diabetic|retired|on a pension|pensioners|coeliac|celiac|full[- ]?time)/, 2],
    [/^(my|our) \w+( \w+)? (is|are|has|have|was)\b/, 3],
    [/^call me\b/, 4],
    [/\b(vegetarian|vegan|gluten|allergic|allergy|diabetic|coeliac|celiac)\b/, 1],
  ],
  forget: [
    [/\b(forget|forgot)\b/, 4],
    [/\b(delete|remove|erase|clear|wipe)\b.{0,30}\b(what you know|you know|note|notes|memory|memories|info|information|preference|preferences|fact|facts)\b/, 3.5],
    [/\bstop remembering\b/, 4],
    [/\bdo not remember (that|this|it)\b/, 3],
  ],
  insights: [
    [/\bhow (am|are|is) (i|we|things|everything) (going|doing|tracking|travelling|faring|looking)\b/, 3.5],
    [/\b(overall|overview|big picture|insights?|summary of everything|everything looking|report|finances|financially|money ?wise|cut back|save money|saving money|tips|rundown|run down|recap|snapshot|of everything)\b/, 3],
    [/\bhow (is|are) (my|our) (finances|money)\b/, 1],
  ],
  greeting: [
    [/^(hi|hey|hello|hiya|howdy|yo|g'?day|gday|good (morning|afternoon|evening|day)|morning|evening|afternoon|sup|heya|hey there|hi there|hello there)\b/, 3],
    [/^(thanks|thank you|cheers|ta|nice one|legend|awesome)\b/, 3],
    [/\bhow are you\b/, 2],
  ],
  help: [
    [/^help\b|\bhelp me\W*$|\bi need help\b/, 3.5],
    [/\bwhat can (you|i)\b.{0,12}\b(do|ask|say|help)\b/, 4],
    [/\bhow (do|can) i (log|add|record|track|set up|save|enter) (stuff|things|something|anything|an? \w+)$/, 3],
    [/\bhow (do|does|can) (i|this|it|you)\b.{0,15}\b(use|work)\b/, 4],
    [/\b(commands|features|capabilities|instructions|tutorial|user guide)\b/, 3],
    [/\bwhat do you (do|know)\b/, 3],
    [/\bhelp\b/, 1],
  ],
}

const PLACE_QUERY_INTENTS = new Set<Scored>(['find_camping', 'weather', 'plan_trip'])

interface Features {
  text: string
  question: boolean
  spendVerb: boolean
  fuelWord: boolean
  words: number
  scan: Scan
}

function featuresOf(text: string, original: string, scan: Scan): Features {
  return {
    text,
    question: /\?\s*$/.test(original) || QUESTION_START.test(text),
    spendVerb: SPEND_VERB.test(text),
    fuelWord: FUEL_WORD.test(text) || FILL_UP.test(text),
    words: text.split(' ').length,
    scan,
  }
}

/** Points from the entities found and the message's shape. */
function entityScores(f: Features, s: Record<Scored, number>): void {
  const { scan } = f
  const money = scan.money.length > 0
  const explicitMoney = scan.money.some((m) => m.explicit)
  const moneyPoints = explicitMoney ? 1.5 : money ? 1 : 0
  const fillUp = scan.volume !== null || scan.fuelPrice !== null

  // Money moved: an amount makes a record likelier, a question much less.
  s.add_expense += moneyPoints + (money && (scan.category || scan.merchant) ? 1 : 0)
  // A note of what and how much ("coffee 5.50", "Telstra recharge 30").
  // (A fuel word with an amount is a fill-up: see below.)
  if (money && (scan.category || scan.merchant) && !f.question && f.words <= 5 && !f.fuelWord) s.add_expense += 1
  s.add_income += money ? 1 : 0
  if (money && /\b(made|making|sold|selling)\b/.test(f.text)) s.add_income += 2.5
  if (money && /\b(on|for|at)\b/.test(f.text) && !f.question) s.add_expense += 0.5
  s.set_budget += money ? 1 : 0
  s.set_budget += money && scan.budgetPeriod ? 1 : 0
  s.savings_goal += money ? 0.5 : 0
  if (s.add_income >= 3) s.add_expense -= 1.5 // "got paid", "client paid me"

  // Fuel: a volume or a price per litre is a fill-up; a fuel word with an amount
  // is one too unless someone "spent" or "paid" it.
  s.log_fuel += fillUp ? 3 : 0
  if (f.fuelWord && money && !f.spendVerb) s.log_fuel += 2
  if (f.fuelWord && scan.odometer) s.log_fuel += 1
  if (fillUp) s.add_expense -= 1

  // Maintenance: an odometer reading belongs to a job done.
  if (scan.odometer) s.log_maintenance += 1
  if (money && TASK_WORD.test(f.text) && DONE_VERB.test(f.text)) s.log_maintenance += 1.5

  // Trips and places.
  if (scan.places.origin && scan.places.destination) s.plan_trip += 3
  else if (scan.places.destination) s.plan_trip += 1
  if (scan.distance) s.plan_trip += 1
  if (scan.places.place) for (const i of PLACE_QUERY_INTENTS) s[i] += 0.5
  if (scan.period) s.spending_summary += 1

  if (f.question) questionScores(f, s)
  else statementScores(f, s)

  // A spending verb is about money, not about finding a site ("paid 35 for a powered site").
  if (f.spendVerb && money) s.find_camping -= 2.5
  if (/\b(cost|costs|spent|spend|spending|budget)\b/.test(f.text)) s.find_camping -= 2
  // "900 a month" is a limit, not a purchase.
  if (scan.budgetPeriod && money) {
    s.log_fuel -= 2
    s.add_expense -= 1
  }
  if (f.spendVerb && !f.question) s.remember -= 2
  // Greetings and help are short; on a longer message they are a preamble.
  if (f.words > 4) {
    s.greeting -= (f.words - 4) * 0.5
    s.help -= (f.words - 6) * 0.25
  }
}

function questionScores(f: Features, s: Record<Scored, number>): void {
  s.add_expense -= 2.5
  s.add_income -= 2
  s.log_fuel -= 3
  s.log_maintenance -= 3
  s.remember -= 3
  s.set_budget -= 1.5
  s.forget -= 1
  s.social_post -= 1
  if (TASK_WORD.test(f.text)) s.maintenance_due += 1.5
  if (/\bbudgets?\b/.test(f.text)) s.budget_status += 1
  if (f.spendVerb || /\b(cost|costs|expenses)\b/.test(f.text)) s.spending_summary += 0.5
}

function statementScores(f: Features, s: Record<Scored, number>): void {
  s.maintenance_due -= 1
  if (/^(i|we|my|our) /.test(f.text) && !f.spendVerb) s.remember += 0.5
  // "we always fill up at Shell" is a habit to remember, not a fill-up.
  if (/\b(always|usually|never|normally|prefer|tend to)\b/.test(f.text)) {
    s.remember += 2
    s.log_fuel -= 2
    s.add_expense -= 1
  }
}

// ---------------------------------------------------------------- 4. decide

/** Every intent's score for a message (for tests and tuning). */
export function scores(message: string, opts: ClassifyOptions): Record<Scored, number> {
  return analyse(message, opts).scores
}

function analyse(full: string, opts: ClassifyOptions) {
  const message = full.slice(0, MAX_CHARS)
  const locale = opts.locale ?? localeOfZone(opts.timeZone)
  const text = normalise(message)
  const scan = scanEntities(text, { today: opts.today, locale }, message)
  const f = featuresOf(text, message, scan)
  const s = {} as Record<Scored, number>
  for (const intent of Object.keys(RULES) as Scored[]) {
    let total = 0
    for (const [re, weight] of RULES[intent]) if (re.test(text)) total += weight
    s[intent] = total
  }
  entityScores(f, s)
  return { text, scan, scores: s, locale }
}

// US zones, for a user whose locale is unknown: "3/4" is then 4 March's opposite.
const US_ZONES = /^(America\/(New_York|Chicago|Denver|Phoenix|Los_Angeles|Anchorage|Detroit|Boise|Juneau|Sitka|Nome|Adak|Menominee|Indiana\/\w+|Kentucky\/\w+|North_Dakota\/\w+)|Pacific\/Honolulu|US\/\w+)$/

function localeOfZone(timeZone?: string): string {
  return timeZone && US_ZONES.test(timeZone) ? 'en-US' : 'en-AU'
}

const round2 = (n: number) => Math.round(n * 100) / 100

export function classify(message: string, opts: ClassifyOptions): Classification {
  const { text, scan, scores: s, locale } = analyse(message, opts)
  const ranked = (Object.entries(s) as [Scored, number][]).sort((a, b) => b[1] - a[1])
  const [[top, best], [, second]] = ranked
  if (best < MIN_SCORE) {
    return { intent: 'unknown', confidence: round2(0.5 + 0.45 * (1 - Math.max(0, best) / MIN_SCORE)), entities: entitiesOf(scan) }
  }
  const margin = (best - Math.max(0, second)) / best
  const strength = 1 - Math.exp(-best / 3)
  const confidence = round2(Math.min(1, Math.max(0, strength * (0.35 + 0.65 * margin))))
  return { intent: top, confidence, entities: entitiesFor(top, text, scan, opts.today, locale) }
}

// Which entities each intent reports: a category means something to money
// intents only, a budget period to budgets; forward-looking intents read
// "Saturday" as the next one.
const CATEGORY_INTENTS = new Set<Intent>(['add_expense', 'spending_summary', 'budget_status', 'set_budget', 'log_fuel', 'log_maintenance'])
const FUTURE_INTENTS = new Set<Intent>(['weather', 'plan_trip', 'find_camping', 'maintenance_due', 'calendar'])

function entitiesFor(intent: Intent, text: string, scan: Scan, today: string, locale: string): Entities {
  const e = entitiesOf(scan)
  if (!CATEGORY_INTENTS.has(intent)) delete e.category
  if (intent === 'log_fuel') e.category = 'fuel'
  if (intent === 'log_maintenance') e.category = 'maintenance'
  if (intent !== 'set_budget' && intent !== 'budget_status') delete e.budgetPeriod
  if (FUTURE_INTENTS.has(intent) && scan.date) {
    const date = extractDate(text, { today, locale, prefer: 'future' })
    if (date) e.date = date.date
  }
  return e
}
