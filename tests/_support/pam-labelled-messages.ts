// Chat messages as travellers type them, labelled with the intent PAM should
// read and, for some, the entities it should find. Read against TODAY
// (Wednesday 4 March 2026) in en-AU unless `locale` says otherwise.
//
// Written as users talk (slang, typos, no capitals, AU and US money and
// distance words) rather than to fit the classifier's rules; the near misses
// are deliberate: questions vs statements about the same thing ("how much did
// fuel cost" vs "spent 80 on fuel"), "trip" in a savings goal, "fill up" in a
// preference, "fuel" in a maintenance job.
//
// Labelling conventions (the classifier's header explains why):
// - A fill-up (volume, "filled up", a price per litre, or a fuel word with an
//   amount and no spending verb: "diesel $95 at the BP") is log_fuel; an amount
//   spent *on* fuel ("spent 80 on fuel") is add_expense with category fuel.
// - A maintenance job done is log_maintenance even with its cost; a question
//   about when one is needed is maintenance_due.
// - A generic "how am I going" is insights; a total for a category or a
//   period is spending_summary.
//
// SECOND_ROUND was written after tuning on LABELLED, measured, then tuned on;
// HELD_OUT was written last and has never been tuned on. The test reports the
// accuracy of each.

export const TODAY = '2026-03-04'

export interface ExpectedEntities {
  amount?: string
  currency?: string
  date?: string
  /** kind:offset, e.g. "month:-1". */
  period?: string
  category?: string
  merchant?: string
  origin?: string
  destination?: string
  place?: string
  litres?: number
  km?: number
  odometer?: number
}

export interface Labelled {
  text: string
  intent: string
  locale?: string
  entities?: ExpectedEntities
}

export const LABELLED: Labelled[] = [
  // ---- add_expense
  { text: 'spent $45.50 at Coles yesterday', intent: 'add_expense', entities: { amount: '45.50', date: '2026-03-03', category: 'food', merchant: 'Coles' } },
  { text: 'just paid 38 bucks for the caravan park', intent: 'add_expense', entities: { amount: '38.00', category: 'camping' } },
  { text: 'coffee 5.50', intent: 'add_expense', entities: { amount: '5.50', category: 'dining' } },
  { text: '$120 at Bunnings for a new hose', intent: 'add_expense', entities: { amount: '120.00', merchant: 'Bunnings' } },
  { text: 'dropped 60 on groceries at woolies', intent: 'add_expense', entities: { amount: '60.00', category: 'food' } },
  { text: 'paid rego today $850', intent: 'add_expense', entities: { amount: '850.00', category: 'registration', date: '2026-03-04' } },
  { text: 'add expense: dinner at the pub 74.20', intent: 'add_expense', entities: { amount: '74.20', category: 'dining' } },
  { text: 'spnt 25 on laundry', intent: 'add_expense', entities: { amount: '25.00', category: 'utilities' } },
  { text: 'bought a gas bottle refill for $32', intent: 'add_expense', entities: { amount: '32.00', category: 'utilities' } },
  { text: 'Paid $1.2k for insurance last Tuesday', intent: 'add_expense', entities: { amount: '1200.00', category: 'insurance', date: '2026-03-03' } },
  { text: '45 bucks at Maccas on the 3rd', intent: 'add_expense', entities: { amount: '45.00', category: 'dining', date: '2026-03-03' } },
  { text: 'spent fifty dollars on a museum pass', intent: 'add_expense', entities: { amount: '50.00', category: 'entertainment' } },
  { text: 'Telstra recharge 30', intent: 'add_expense', entities: { amount: '30.00', category: 'connectivity' } },
  { text: 'tolls were $18.60 today', intent: 'add_expense', entities: { amount: '18.60', category: 'tolls', date: '2026-03-04' } },
  { text: 'got charged 22 for the ferry', intent: 'add_expense', entities: { amount: '22.00', category: 'tolls' } },
  { text: 'AUD 65 at the chemist', intent: 'add_expense', entities: { amount: '65.00', currency: 'AUD', category: 'health' } },
  { text: 'log 12.90 for ice creams', intent: 'add_expense', entities: { amount: '12.90' } },
  { text: 'I spent 200 on the Spirit of Tasmania booking on Friday', intent: 'add_expense', entities: { amount: '200.00', category: 'tolls', date: '2026-02-27' } },
  { text: 'blew 90 bucks at the bottle shop', intent: 'add_expense', entities: { amount: '90.00' } },
  { text: 'we paid 35 for a powered site at Broken Hill', intent: 'add_expense', entities: { amount: '35.00', category: 'camping', place: 'Broken Hill' } },
  { text: 'US$40 at a Walmart in Flagstaff', intent: 'add_expense', locale: 'en-US', entities: { amount: '40.00', currency: 'USD', category: 'food', place: 'Flagstaff' } },
  { text: 'Spent $62.35 on groceries 2 days ago', intent: 'add_expense', entities: { amount: '62.35', category: 'food', date: '2026-03-02' } },
  { text: 'fish and chips 28', intent: 'add_expense', entities: { amount: '28.00', category: 'dining' } },
  { text: 'record a $15 parking fee', intent: 'add_expense', entities: { amount: '15.00' } },
  { text: '$9 shower token at the showground', intent: 'add_expense', entities: { amount: '9.00' } },
  { text: 'paid the vet 180 yesterday', intent: 'add_expense', entities: { amount: '180.00', date: '2026-03-03', category: 'health' } },
  { text: 'Paid $45 for diesel at the Caltex in Roma', intent: 'add_expense', entities: { amount: '45.00', category: 'fuel', place: 'Roma' } },
  { text: 'spent 80 on fuel', intent: 'add_expense', entities: { amount: '80.00', category: 'fuel' } },
  { text: 'spent 55 bucks on gas in Tucson', intent: 'add_expense', locale: 'en-US', entities: { amount: '55.00', category: 'fuel', place: 'Tucson' } },
  { text: '2 coffees $11', intent: 'add_expense', entities: { amount: '11.00', category: 'dining' } },
  { text: 'lunch at the bakery was 23.40', intent: 'add_expense', entities: { amount: '23.40', category: 'dining' } },
  { text: 'new esky from BCF $89', intent: 'add_expense', entities: { amount: '89.00' } },
  { text: 'forked out 140 for the mechanic to look at the aircon', intent: 'add_expense', entities: { amount: '140.00', category: 'maintenance' } },
  { text: 'spent €30 on a boat tour', intent: 'add_expense', entities: { amount: '30.00', currency: 'EUR', category: 'entertainment' } },
  { text: 'groceries 3/3 $84.10', intent: 'add_expense', entities: { amount: '84.10', date: '2026-03-03', category: 'food' } },
  { text: 'groceries 3/3 $84.10', intent: 'add_expense', locale: 'en-US', entities: { amount: '84.10', date: '2026-03-03', category: 'food' } },
  { text: 'spent twenty five bucks on firewood', intent: 'add_expense', entities: { amount: '25.00' } },

  // ---- add_income
  { text: 'got paid $850 for the fruit picking', intent: 'add_income', entities: { amount: '850.00' } },
  { text: 'earned 320 from the market stall today', intent: 'add_income', entities: { amount: '320.00', date: '2026-03-04' } },
  { text: 'client paid me $1,250 for the website', intent: 'add_income', entities: { amount: '1250.00' } },
  { text: 'income: 400 from workamping at the caravan park', intent: 'add_income', entities: { amount: '400.00' } },
  { text: 'made 75 bucks selling photos', intent: 'add_income', entities: { amount: '75.00' } },
  { text: 'received my pension 1,100 yesterday', intent: 'add_income', entities: { amount: '1100.00', date: '2026-03-03' } },
  { text: 'add income $600 harvest work', intent: 'add_income', entities: { amount: '600.00' } },
  { text: 'sold the old awning for 250', intent: 'add_income', entities: { amount: '250.00' } },
  { text: 'my wages came in, $1.5k', intent: 'add_income', entities: { amount: '1500.00' } },
  { text: 'payday! 2,340 from the mine site', intent: 'add_income', entities: { amount: '2340.00' } },
  { text: 'Got 90 in tips at the cafe tonight', intent: 'add_income', entities: { amount: '90.00' } },
  { text: 'invoice paid by Sarah, USD 300', intent: 'add_income', entities: { amount: '300.00', currency: 'USD' } },
  { text: 'Earned 45 dollars from a rideshare trip', intent: 'add_income', entities: { amount: '45.00' } },
  { text: 'the farm paid us 1800 for the fortnight', intent: 'add_income', entities: { amount: '1800.00' } },

  // ---- spending_summary
  { text: 'how much did I spend on fuel this month', intent: 'spending_summary', entities: { category: 'fuel', period: 'month:0' } },
  { text: 'how much have we spent on food this week', intent: 'spending_summary', entities: { category: 'food', period: 'week:0' } },
  { text: 'what did I spend last month', intent: 'spending_summary', entities: { period: 'month:-1' } },
  { text: 'how much did fuel cost me last month', intent: 'spending_summary', entities: { category: 'fuel', period: 'month:-1' } },
  { text: 'show me my expenses for this week', intent: 'spending_summary', entities: { period: 'week:0' } },
  { text: 'total spending this year', intent: 'spending_summary', entities: { period: 'year:0' } },
  { text: 'whats my spending on dining out this month', intent: 'spending_summary', entities: { category: 'dining', period: 'month:0' } },
  { text: "where's all my money going", intent: 'spending_summary' },
  { text: 'breakdown of spending last month', intent: 'spending_summary', entities: { period: 'month:-1' } },
  { text: 'how much on camping fees so far this month', intent: 'spending_summary', entities: { category: 'camping', period: 'month:0' } },
  { text: 'how much did we spend at Coles last week', intent: 'spending_summary', entities: { merchant: 'Coles', period: 'week:-1' } },
  { text: 'list my expenses from yesterday', intent: 'spending_summary', entities: { date: '2026-03-03' } },
  { text: 'how much did i spnd on groceries', intent: 'spending_summary', entities: { category: 'food' } },
  { text: 'what have I spent on the van this year', intent: 'spending_summary', entities: { period: 'year:0' } },
  { text: 'how much was diesel last week', intent: 'spending_summary', entities: { category: 'fuel', period: 'week:-1' } },
  { text: 'show my fuel spending', intent: 'spending_summary', entities: { category: 'fuel' } },
  { text: 'how much did I spend on gas last month', intent: 'spending_summary', locale: 'en-US', entities: { category: 'fuel', period: 'month:-1' } },
  { text: 'what did we spend yesterday', intent: 'spending_summary', entities: { date: '2026-03-03' } },
  { text: 'my biggest expenses this month?', intent: 'spending_summary', entities: { period: 'month:0' } },
  { text: 'how much have the tolls cost us', intent: 'spending_summary', entities: { category: 'tolls' } },

  // ---- budget_status
  { text: "how's my budget looking", intent: 'budget_status' },
  { text: 'am I over budget on food', intent: 'budget_status', entities: { category: 'food' } },
  { text: 'how much is left in the fuel budget', intent: 'budget_status', entities: { category: 'fuel' } },
  { text: 'budget check', intent: 'budget_status' },
  { text: 'how much can I still spend this week', intent: 'budget_status' },
  { text: 'are we on track with our budgets this month', intent: 'budget_status' },
  { text: "what's left of my dining budget", intent: 'budget_status', entities: { category: 'dining' } },
  { text: 'did I blow the budget on eating out', intent: 'budget_status', entities: { category: 'dining' } },
  { text: 'budget status pls', intent: 'budget_status' },
  { text: 'how close am I to my grocery limit', intent: 'budget_status', entities: { category: 'food' } },
  { text: 'can I afford a $60 dinner tonight', intent: 'budget_status' },
  { text: 'remaining budget for camping?', intent: 'budget_status', entities: { category: 'camping' } },
  { text: 'hows the buget going', intent: 'budget_status' },

  // ---- set_budget
  { text: 'set my fuel budget to $400 a month', intent: 'set_budget', entities: { amount: '400.00', category: 'fuel' } },
  { text: 'budget 150 a week for groceries', intent: 'set_budget', entities: { amount: '150.00', category: 'food' } },
  { text: 'make the dining budget 200', intent: 'set_budget', entities: { amount: '200.00', category: 'dining' } },
  { text: 'I want to spend no more than 300 on camping this month', intent: 'set_budget', entities: { amount: '300.00', category: 'camping' } },
  { text: 'change my food budget to 250 per week', intent: 'set_budget', entities: { amount: '250.00', category: 'food' } },
  { text: 'create a budget of $1,000 monthly for fuel', intent: 'set_budget', entities: { amount: '1000.00', category: 'fuel' } },
  { text: 'set a weekly budget of 80 for eating out', intent: 'set_budget', entities: { amount: '80.00', category: 'dining' } },
  { text: 'increase the entertainment budget to 120', intent: 'set_budget', entities: { amount: '120.00' } },
  { text: 'limit tolls to 50 a month', intent: 'set_budget', entities: { amount: '50.00', category: 'tolls' } },
  { text: 'new budget: groceries 600/month', intent: 'set_budget', entities: { amount: '600.00', category: 'food' } },
  { text: 'cap my takeaway spending at $100 a fortnight', intent: 'set_budget', entities: { amount: '100.00', category: 'dining' } },
  { text: 'lower my fuel budget to 350', intent: 'set_budget', entities: { amount: '350.00', category: 'fuel' } },

  // ---- savings_goal
  { text: "how's my savings goal going", intent: 'savings_goal' },
  { text: 'put $200 towards the new solar panels goal', intent: 'savings_goal', entities: { amount: '200.00' } },
  { text: 'add 50 to my emergency fund', intent: 'savings_goal', entities: { amount: '50.00' } },
  { text: 'how close am I to the Kimberley trip fund', intent: 'savings_goal' },
  { text: 'create a savings goal of 5k for a new caravan', intent: 'savings_goal', entities: { amount: '5000.00' } },
  { text: 'I want to save $3,000 for Tassie by December', intent: 'savings_goal', entities: { amount: '3000.00' } },
  { text: 'how much have I saved for the lithium battery', intent: 'savings_goal' },
  { text: 'move 100 into savings', intent: 'savings_goal', entities: { amount: '100.00' } },
  { text: 'savings progress?', intent: 'savings_goal' },
  { text: 'start a goal: new tyres, 1,800', intent: 'savings_goal', entities: { amount: '1800.00' } },
  { text: 'deposit 75 into the rainy day fund', intent: 'savings_goal', entities: { amount: '75.00' } },
  { text: 'how much more do I need for the boat goal', intent: 'savings_goal' },

  // ---- log_fuel
  { text: 'filled up 62L at Shell for $128.40', intent: 'log_fuel', entities: { amount: '128.40', litres: 62, category: 'fuel', merchant: 'Shell' } },
  { text: 'fuelled up, 55.3 litres diesel at $2.19/L', intent: 'log_fuel', entities: { litres: 55.3 } },
  { text: 'topped up the tank, 40 litres, odo 184,233', intent: 'log_fuel', entities: { litres: 40, odometer: 184233 } },
  { text: 'diesel $95 at the BP in Roma', intent: 'log_fuel', entities: { amount: '95.00', place: 'Roma', merchant: 'BP' } },
  { text: 'fule 80 at Caltex', intent: 'log_fuel', entities: { amount: '80.00', category: 'fuel' } },
  { text: 'put 70 litres in at 184500 km', intent: 'log_fuel', entities: { litres: 70, odometer: 184500 } },
  { text: 'fill up today 110 bucks', intent: 'log_fuel', entities: { amount: '110.00', date: '2026-03-04' } },
  { text: 'filled up with 15 gallons for $52', intent: 'log_fuel', locale: 'en-US', entities: { amount: '52.00', litres: 56.78 } },
  { text: 'diesal 1.99 a litre, 68L', intent: 'log_fuel', entities: { litres: 68 } },
  { text: 'log fuel: 45L, $92.10, full tank', intent: 'log_fuel', entities: { amount: '92.10', litres: 45 } },
  { text: 'half tank top-up at Ampol, 30 litres', intent: 'log_fuel', entities: { litres: 30, merchant: 'Ampol' } },
  { text: 'just filled the van, $140', intent: 'log_fuel', entities: { amount: '140.00' } },
  { text: 'gassed up, 12 gal, $48', intent: 'log_fuel', locale: 'en-US', entities: { amount: '48.00', litres: 45.42 } },
  { text: 'refuelled at Broken Hill 58L 121.50', intent: 'log_fuel', entities: { amount: '121.50', litres: 58, place: 'Broken Hill' } },
  { text: 'petrol 50 litres $105 at Coles Express', intent: 'log_fuel', entities: { amount: '105.00', merchant: 'Coles Express', category: 'fuel' } },
  { text: 'adding a fill up: 64 litres unleaded', intent: 'log_fuel', entities: { litres: 64 } },
  { text: 'Diesel at 219.9c/L, got 71 litres', intent: 'log_fuel', entities: { litres: 71 } },

  // ---- log_maintenance
  { text: 'had the oil changed at 184,000', intent: 'log_maintenance', entities: { odometer: 184000 } },
  { text: 'got the tyres rotated today', intent: 'log_maintenance', entities: { date: '2026-03-04' } },
  { text: 'replaced the brake pads on the Hilux, cost $420', intent: 'log_maintenance', entities: { amount: '420.00' } },
  { text: 'serviced the van at Ultra Tune yesterday', intent: 'log_maintenance', entities: { date: '2026-03-03', merchant: 'Ultra Tune' } },
  { text: 'new battery fitted in the caravan', intent: 'log_maintenance' },
  { text: 'did the 200k service today, $650', intent: 'log_maintenance', entities: { amount: '650.00', date: '2026-03-04' } },
  { text: 'log maintenance: wheel bearings repacked at 92,300 km', intent: 'log_maintenance', entities: { odometer: 92300 } },
  { text: 'mechanic replaced the fan belt, $180', intent: 'log_maintenance', entities: { amount: '180.00' } },
  { text: 'changed the fuel filter this morning', intent: 'log_maintenance', entities: { date: '2026-03-04' } },
  { text: 'got the wheel alignment done at Bob Jane, 120 bucks', intent: 'log_maintenance', entities: { amount: '120.00' } },
  { text: 'had the caravan brakes adjusted last Tuesday', intent: 'log_maintenance', entities: { date: '2026-03-03' } },
  { text: 'replaced the anode in the hot water system', intent: 'log_maintenance' },
  { text: 'Just got new tyres fitted, odo 151,800', intent: 'log_maintenance', entities: { odometer: 151800 } },
  { text: 'oil and filter change done at 96500km', intent: 'log_maintenance', entities: { odometer: 96500 } },

  // ---- maintenance_due
  { text: "when's my next service due", intent: 'maintenance_due' },
  { text: 'is the rego due soon', intent: 'maintenance_due' },
  { text: 'anything due on the van?', intent: 'maintenance_due' },
  { text: 'when do I need an oil change', intent: 'maintenance_due' },
  { text: 'what maintenance is coming up', intent: 'maintenance_due' },
  { text: 'how many km until the next service', intent: 'maintenance_due' },
  { text: 'is the caravan due for a wheel bearing check', intent: 'maintenance_due' },
  { text: 'overdue maintenance?', intent: 'maintenance_due' },
  { text: 'do I need new tyres soon', intent: 'maintenance_due' },
  { text: 'when should I get the brakes looked at', intent: 'maintenance_due' },
  { text: "what's due in the next 30 days", intent: 'maintenance_due' },
  { text: 'wen is the maintanence due on the troopy', intent: 'maintenance_due' },
  { text: 'is it time for a service yet', intent: 'maintenance_due' },

  // ---- plan_trip
  { text: 'plan a trip from Brisbane to Darwin', intent: 'plan_trip', entities: { origin: 'Brisbane', destination: 'Darwin' } },
  { text: 'route from Adelaide to Alice Springs avoiding dirt roads', intent: 'plan_trip', entities: { origin: 'Adelaide', destination: 'Alice Springs' } },
  { text: 'how far is it from Broome to Kununurra', intent: 'plan_trip', entities: { origin: 'Broome', destination: 'Kununurra' } },
  { text: 'drive from Melbourne to Sydney over 3 days', intent: 'plan_trip', entities: { origin: 'Melbourne', destination: 'Sydney' } },
  { text: 'help me plan a road trip to Cairns next month', intent: 'plan_trip', entities: { destination: 'Cairns' } },
  { text: "what's the best way to get to Uluru from Coober Pedy", intent: 'plan_trip', entities: { origin: 'Coober Pedy', destination: 'Uluru' } },
  { text: 'can you work out a route Perth to Esperance, max 400 km a day', intent: 'plan_trip', entities: { origin: 'Perth', destination: 'Esperance', km: 400 } },
  { text: 'how long does it take to drive to Margaret River', intent: 'plan_trip', entities: { destination: 'Margaret River' } },
  { text: 'plan our drive up the coast from Sydney to Byron Bay', intent: 'plan_trip', entities: { origin: 'Sydney', destination: 'Byron Bay' } },
  { text: 'itinerary for 2 weeks in Tasmania', intent: 'plan_trip', entities: { place: 'Tasmania' } },
  { text: 'heading to Broken Hill next Tuesday, plan the stops', intent: 'plan_trip', entities: { destination: 'Broken Hill' } },
  { text: 'plan trip brisbane to townsville', intent: 'plan_trip', entities: { origin: 'Brisbane', destination: 'Townsville' } },
  { text: 'plan a route from Denver to Moab, 300 miles a day max', intent: 'plan_trip', locale: 'en-US', entities: { origin: 'Denver', destination: 'Moab', km: 482.8 } },
  { text: 'we want to do the Nullarbor, Adelaide to Perth, how many days', intent: 'plan_trip', entities: { origin: 'Adelaide', destination: 'Perth' } },
  { text: 'work out fuel and camps for a drive from Darwin to Katherine', intent: 'plan_trip', entities: { origin: 'Darwin', destination: 'Katherine' } },
  { text: 'whats the quickest way from Mildura to Bendigo', intent: 'plan_trip', entities: { origin: 'Mildura', destination: 'Bendigo' } },

  // ---- find_camping
  { text: 'find a free camp near Broken Hill', intent: 'find_camping', entities: { place: 'Broken Hill' } },
  { text: 'any campsites around Alice Springs?', intent: 'find_camping', entities: { place: 'Alice Springs' } },
  { text: 'where can we stay tonight near Mildura', intent: 'find_camping', entities: { place: 'Mildura' } },
  { text: 'pet friendly caravan parks in Port Augusta', intent: 'find_camping', entities: { place: 'Port Augusta' } },
  { text: 'need a campground with showers near Cairns', intent: 'find_camping', entities: { place: 'Cairns' } },
  { text: 'free camping spots between here and Tamworth', intent: 'find_camping' },
  { text: 'somewhere to park up for the night', intent: 'find_camping' },
  { text: 'show me rest areas on the Stuart Highway', intent: 'find_camping' },
  { text: 'powered sites near Esperance under $40', intent: 'find_camping', entities: { place: 'Esperance' } },
  { text: 'is there a dump point near Dubbo', intent: 'find_camping', entities: { place: 'Dubbo' } },
  { text: 'cheap camp spot for a 7m van near Kalbarri', intent: 'find_camping', entities: { place: 'Kalbarri' } },
  { text: 'find me a campsight near the coast', intent: 'find_camping' },
  { text: "where's the nearest RV friendly camp", intent: 'find_camping' },
  { text: 'camping spots near Lake Eyre with toilets', intent: 'find_camping', entities: { place: 'Lake Eyre' } },

  // ---- weather
  { text: "what's the weather like in Cairns tomorrow", intent: 'weather', entities: { place: 'Cairns', date: '2026-03-05' } },
  { text: 'is it going to rain this weekend', intent: 'weather' },
  { text: 'how windy will it be on Saturday', intent: 'weather', entities: { date: '2026-03-07' } },
  { text: 'forecast for Broken Hill', intent: 'weather', entities: { place: 'Broken Hill' } },
  { text: 'will it be too windy to tow tomorrow', intent: 'weather', entities: { date: '2026-03-05' } },
  { text: 'any storms coming?', intent: 'weather' },
  { text: 'wether for the next few days', intent: 'weather' },
  { text: 'how hot is it going to get in Alice', intent: 'weather', entities: { place: 'Alice' } },
  { text: 'is there frost tonight', intent: 'weather' },
  { text: 'should we expect rain at the campsite', intent: 'weather' },
  { text: 'weather check pls', intent: 'weather' },
  { text: 'is the cyclone heading our way', intent: 'weather' },
  { text: 'temperature in Coober Pedy this week', intent: 'weather', entities: { place: 'Coober Pedy' } },
  { text: 'chance of rain in Hobart on Friday', intent: 'weather', entities: { place: 'Hobart', date: '2026-03-06' } },
  { text: 'is it gonna snow in Flagstaff', intent: 'weather', locale: 'en-US', entities: { place: 'Flagstaff' } },

  // ---- saved_places
  { text: 'show my saved places', intent: 'saved_places' },
  { text: 'save this spot', intent: 'saved_places' },
  { text: 'bookmark this campsite as a favourite', intent: 'saved_places' },
  { text: 'where was that great spot near Kalbarri we saved', intent: 'saved_places' },
  { text: 'add Cape Le Grand to my places', intent: 'saved_places' },
  { text: 'list my favourite spots', intent: 'saved_places' },
  { text: 'what places have I saved in Queensland', intent: 'saved_places' },
  { text: 'delete the Mildura place from my saved list', intent: 'saved_places' },
  { text: 'pin this location', intent: 'saved_places' },
  { text: 'my saved places near Darwin?', intent: 'saved_places' },

  // ---- social_post
  { text: 'post a photo of the sunset to the group', intent: 'social_post' },
  { text: 'share my trip update with the community', intent: 'social_post' },
  { text: 'write a post about the Gibb River Road', intent: 'social_post' },
  { text: 'tell the group the road to Cape York is open', intent: 'social_post' },
  { text: 'post this: great free camp at Lake Ballard', intent: 'social_post' },
  { text: 'share this campsite with my followers', intent: 'social_post' },
  { text: 'can you post an update saying we made it to Darwin', intent: 'social_post' },
  { text: 'create a post for the Jayco owners group', intent: 'social_post' },
  { text: 'publish my review of the Mildura caravan park to the feed', intent: 'social_post' },
  { text: 'let everyone know the Savannah Way is flooded', intent: 'social_post' },
  { text: 'tell the Nullarbor crossers group: road open past Eucla', intent: 'social_post' },

  // ---- social_feed
  { text: "what's new in the feed", intent: 'social_feed' },
  { text: 'show me the latest posts', intent: 'social_feed' },
  { text: 'any news from the group', intent: 'social_feed' },
  { text: 'what are other travellers posting', intent: 'social_feed' },
  { text: 'check the community feed', intent: 'social_feed' },
  { text: "what's happening in the Jayco owners group", intent: 'social_feed' },
  { text: 'any posts about the Nullarbor', intent: 'social_feed' },
  { text: 'show me what my friends have been up to', intent: 'social_feed' },
  { text: 'anything new on the social side', intent: 'social_feed' },
  { text: 'read me the newest posts', intent: 'social_feed' },

  // ---- remember
  { text: 'I drive a 2019 Jayco Conquest', intent: 'remember' },
  { text: "I'm vegetarian", intent: 'remember' },
  { text: 'we avoid toll roads', intent: 'remember' },
  { text: 'remember that my wife hates dirt roads', intent: 'remember' },
  { text: 'our van is 7.2 metres long and 3.1 high', intent: 'remember' },
  { text: 'we travel with two dogs', intent: 'remember' },
  { text: 'I prefer free camps over caravan parks', intent: 'remember' },
  { text: 'my home currency is NZD', intent: 'remember' },
  { text: "we don't do unsealed roads", intent: 'remember' },
  { text: "fyi I'm allergic to shellfish", intent: 'remember' },
  { text: "note that we're on a pension", intent: 'remember' },
  { text: 'call me Dave', intent: 'remember' },
  { text: 'keep in mind we need powered sites for the CPAP', intent: 'remember' },
  { text: 'we always fill up with diesel at Shell', intent: 'remember' },
  { text: 'im diabetic so i need a fridge', intent: 'remember' },

  // ---- forget
  { text: "forget that I'm vegetarian", intent: 'forget' },
  { text: 'forget about the dogs', intent: 'forget' },
  { text: 'please forget my home address', intent: 'forget' },
  { text: 'delete what you know about my van', intent: 'forget' },
  { text: "don't remember that anymore", intent: 'forget' },
  { text: 'we sold the Jayco, forget it', intent: 'forget' },
  { text: 'forget everything you know about me', intent: 'forget' },
  { text: 'remove the note about toll roads', intent: 'forget' },
  { text: "stop remembering my wife's name", intent: 'forget' },
  { text: 'forget we avoid dirt roads', intent: 'forget' },

  // ---- insights
  { text: 'how am I going overall', intent: 'insights' },
  { text: 'give me a summary of everything', intent: 'insights' },
  { text: 'how are we tracking this month', intent: 'insights' },
  { text: 'any insights for me', intent: 'insights' },
  { text: 'where could I save money', intent: 'insights' },
  { text: 'overview please', intent: 'insights' },
  { text: 'how are my finances', intent: 'insights' },
  { text: 'monthly report', intent: 'insights' },
  { text: 'what should I cut back on', intent: 'insights' },
  { text: "how's everything looking", intent: 'insights' },
  { text: 'give me the big picture', intent: 'insights' },
  { text: 'am I doing ok money wise', intent: 'insights' },

  // ---- greeting
  { text: 'hi', intent: 'greeting' },
  { text: 'hey pam', intent: 'greeting' },
  { text: "g'day", intent: 'greeting' },
  { text: 'good morning!', intent: 'greeting' },
  { text: 'hello there', intent: 'greeting' },
  { text: 'thanks mate', intent: 'greeting' },
  { text: 'cheers', intent: 'greeting' },
  { text: 'yo', intent: 'greeting' },
  { text: 'howdy', intent: 'greeting', locale: 'en-US' },
  { text: 'morning PAM, how are you?', intent: 'greeting' },

  // ---- help
  { text: 'help', intent: 'help' },
  { text: 'what can you do', intent: 'help' },
  { text: 'how do I use this', intent: 'help' },
  { text: 'what can I ask you', intent: 'help' },
  { text: 'what are your features', intent: 'help' },
  { text: 'I need help', intent: 'help' },
  { text: 'how does this app work', intent: 'help' },
  { text: 'help me', intent: 'help' },
  { text: 'show me the commands', intent: 'help' },
  { text: 'what do you know how to do', intent: 'help' },

  // ---- unknown
  { text: "what's the capital of France", intent: 'unknown' },
  { text: 'tell me a joke', intent: 'unknown' },
  { text: 'asdfgh', intent: 'unknown' },
  { text: 'ok', intent: 'unknown' },
  // ---- calendar (TODAY is Wednesday 2026-03-04)
  { text: 'remind me Tuesday at 9 to book the Uluru campground', intent: 'calendar', entities: { date: '2026-03-10' } },
  { text: 'remind me tomorrow to call the mechanic', intent: 'calendar', entities: { date: '2026-03-05' } },
  { text: 'move the wheel bearing service to Friday', intent: 'calendar', entities: { date: '2026-03-06' } },
  { text: "what's on this week?", intent: 'calendar' },
  { text: 'what have i got on tomorrow', intent: 'calendar' },
  { text: 'cancel the dentist appointment', intent: 'calendar' },
  { text: 'add the ferry booking to my calendar for Saturday', intent: 'calendar' },
  { text: 'show me my calendar', intent: 'calendar' },
  { text: 'reschedule the tyre fitting to Monday at 2pm', intent: 'calendar' },
  { text: 'any appointments coming up', intent: 'calendar' },
  { text: 'lol', intent: 'unknown' },
  { text: 'who won the footy', intent: 'unknown' },
  { text: '42', intent: 'unknown' },
  { text: 'translate hello into french', intent: 'unknown' },
  { text: 'blue', intent: 'unknown' },
  { text: "what's the meaning of life", intent: 'unknown' },
  { text: 'can you sing', intent: 'unknown' },
  { text: 'the kids are driving me nuts', intent: 'unknown' },
]

// Written after the classifier was tuned on LABELLED: it read 70 of these 89
// right (78.7%) before the rules were widened for what it missed (vocabulary
// such as "paid out", "rundown", "map out", "flooding"); tuned on since.
export const SECOND_ROUND: Labelled[] = [
  { text: 'Paid 27.80 for brekkie in Longreach', intent: 'add_expense', entities: { amount: '27.80', category: 'dining', place: 'Longreach' } },
  { text: 'woolies shop $143.20', intent: 'add_expense', entities: { amount: '143.20', category: 'food' } },
  { text: 'just spent 60 quid on a ferry ticket', intent: 'add_expense', entities: { amount: '60.00', currency: 'GBP' } },
  { text: 'bought new thongs for 15', intent: 'add_expense', entities: { amount: '15.00' } },
  { text: 'campground fee was $42 last night', intent: 'add_expense', entities: { amount: '42.00', date: '2026-03-03', category: 'camping' } },
  { text: 'kfc for the kids, 38 bucks', intent: 'add_expense', entities: { amount: '38.00', category: 'dining' } },
  { text: 'paid starlink 139 on the 1st', intent: 'add_expense', entities: { amount: '139.00', category: 'connectivity', date: '2026-03-01' } },
  { text: 'Spent 12 dollars on ice', intent: 'add_expense', entities: { amount: '12.00' } },
  { text: 'drinks at the rsl 46.50', intent: 'add_expense', entities: { amount: '46.50', category: 'dining' } },
  { text: 'NZ$85 for the Interislander', intent: 'add_expense', entities: { amount: '85.00', currency: 'NZD' } },

  { text: 'got $400 for house sitting', intent: 'add_income', entities: { amount: '400.00' } },
  { text: 'my youtube paid out 212.40 this month', intent: 'add_income', entities: { amount: '212.40' } },
  { text: 'earned two hundred bucks doing odd jobs', intent: 'add_income', entities: { amount: '200.00' } },
  { text: 'received $3k from the tax refund', intent: 'add_income', entities: { amount: '3000.00' } },
  { text: 'pay from the vineyard came through, 960', intent: 'add_income', entities: { amount: '960.00' } },

  { text: 'how much have we blown on takeaway this month', intent: 'spending_summary', entities: { category: 'dining', period: 'month:0' } },
  { text: 'total fuel cost last month?', intent: 'spending_summary', entities: { period: 'month:-1' } },
  { text: 'what did camping cost us this year', intent: 'spending_summary', entities: { category: 'camping', period: 'year:0' } },
  { text: 'show spending by category', intent: 'spending_summary' },
  { text: 'how much have I spent since the 1st', intent: 'spending_summary' },
  { text: 'what were my expenses last week', intent: 'spending_summary', entities: { period: 'week:-1' } },

  { text: 'am I under budget for fuel this month', intent: 'budget_status', entities: { category: 'fuel' } },
  { text: 'how much budget have I got left for groceries', intent: 'budget_status', entities: { category: 'food' } },
  { text: 'is my camping budget blown', intent: 'budget_status', entities: { category: 'camping' } },
  { text: 'budgets?', intent: 'budget_status' },

  { text: 'set a $500 monthly budget for camping', intent: 'set_budget', entities: { amount: '500.00', category: 'camping' } },
  { text: 'I want my grocery budget at 180 a week', intent: 'set_budget', entities: { amount: '180.00', category: 'food' } },
  { text: 'budget $60/wk for coffee', intent: 'set_budget', entities: { amount: '60.00', category: 'dining' } },
  { text: 'keep fuel under 900 a month', intent: 'set_budget', entities: { amount: '900.00', category: 'fuel' } },

  { text: 'chuck 40 bucks in the Cape York fund', intent: 'savings_goal', entities: { amount: '40.00' } },
  { text: "how's the new van savings going", intent: 'savings_goal' },
  { text: 'new goal: save 2k for a dinghy by June', intent: 'savings_goal', entities: { amount: '2000.00' } },
  { text: 'take 100 out of the holiday fund', intent: 'savings_goal', entities: { amount: '100.00' } },

  { text: 'brimmed the tank at Nullarbor Roadhouse, 80 litres for $230', intent: 'log_fuel', entities: { litres: 80, amount: '230.00' } },
  { text: 'unleaded 45.2L $88.60', intent: 'log_fuel', entities: { litres: 45.2, amount: '88.60' } },
  { text: 'fuel stop at Coober Pedy, $2.45 a litre, 90 litres', intent: 'log_fuel', entities: { litres: 90 } },
  { text: 'filled the ute at 212,400 km', intent: 'log_fuel', entities: { odometer: 212400 } },
  { text: 'got gas, 18 gallons, $71.30', intent: 'log_fuel', locale: 'en-US', entities: { litres: 68.14, amount: '71.30' } },
  { text: 'topped up diesel yesterday 60L', intent: 'log_fuel', entities: { litres: 60, date: '2026-03-03' } },

  { text: 'got the van serviced in Tamworth, $520', intent: 'log_maintenance', entities: { amount: '520.00', place: 'Tamworth' } },
  { text: 'rotated the tyres on the caravan this arvo', intent: 'log_maintenance', entities: { date: '2026-03-04' } },
  { text: 'fixed the leaking water pump', intent: 'log_maintenance' },
  { text: 'new shocks put on at 140,000', intent: 'log_maintenance', entities: { odometer: 140000 } },
  { text: 'greased the hitch and checked the bearings today', intent: 'log_maintenance', entities: { date: '2026-03-04' } },

  { text: 'when does the caravan rego expire', intent: 'maintenance_due' },
  { text: 'any services coming up?', intent: 'maintenance_due' },
  { text: 'is an oil change overdue', intent: 'maintenance_due' },
  { text: "what's the next job on the van", intent: 'maintenance_due' },

  { text: 'plan the trip home from Cairns to Melbourne', intent: 'plan_trip', entities: { origin: 'Cairns', destination: 'Melbourne' } },
  { text: 'how many hours from Katherine to Kununurra', intent: 'plan_trip', entities: { origin: 'Katherine', destination: 'Kununurra' } },
  { text: 'map out a route around Tassie for 10 days', intent: 'plan_trip' },
  { text: 'we are driving to Exmouth next week, what stops make sense', intent: 'plan_trip', entities: { destination: 'Exmouth' } },
  { text: 'directions to Uluru', intent: 'plan_trip', entities: { destination: 'Uluru' } },

  { text: 'free camps near Longreach?', intent: 'find_camping', entities: { place: 'Longreach' } },
  { text: 'anywhere to pull over for the night around Ceduna', intent: 'find_camping', entities: { place: 'Ceduna' } },
  { text: 'need a spot with power tonight', intent: 'find_camping' },
  { text: 'dog friendly campgrounds near Margaret River', intent: 'find_camping', entities: { place: 'Margaret River' } },
  { text: 'show me national park camping in the Flinders Ranges', intent: 'find_camping', entities: { place: 'Flinders Ranges' } },

  { text: 'is it raining in Darwin', intent: 'weather', entities: { place: 'Darwin' } },
  { text: 'what are the winds doing tomorrow', intent: 'weather', entities: { date: '2026-03-05' } },
  { text: 'will it be over 40 in Marble Bar on Thursday', intent: 'weather', entities: { place: 'Marble Bar', date: '2026-03-05' } },
  { text: 'do we need to worry about flooding this week', intent: 'weather' },

  { text: 'save this campsite for later', intent: 'saved_places' },
  { text: 'what spots have we saved', intent: 'saved_places' },
  { text: 'add this to favourites', intent: 'saved_places' },

  { text: 'share a pic of the van with the group', intent: 'social_post' },
  { text: 'post an update: road to Birdsville is closed', intent: 'social_post' },
  { text: 'tell my followers we made it to Cape York', intent: 'social_post' },

  { text: 'any new posts?', intent: 'social_feed' },
  { text: "what's everyone been posting about the Gibb", intent: 'social_feed' },
  { text: 'open my feed', intent: 'social_feed' },

  { text: 'we have a 22ft caravan', intent: 'remember' },
  { text: "remember I'm gluten free", intent: 'remember' },
  { text: 'our dog is called Bluey', intent: 'remember' },
  { text: 'I never drive after dark', intent: 'remember' },

  { text: 'forget my van details', intent: 'forget' },
  { text: 'you can forget about the toll roads thing', intent: 'forget' },
  { text: 'erase my preferences', intent: 'forget' },

  { text: 'how are we doing financially', intent: 'insights' },
  { text: 'give me a rundown of everything', intent: 'insights' },
  { text: 'any tips to spend less', intent: 'insights' },

  { text: 'hey there', intent: 'greeting' },
  { text: 'ta', intent: 'greeting' },
  { text: 'evening pam', intent: 'greeting' },

  { text: 'what can you help with', intent: 'help' },
  { text: 'how do I log stuff', intent: 'help' },
  { text: '??', intent: 'unknown' },
  { text: 'whats 7 times 8', intent: 'unknown' },
  { text: 'play some music', intent: 'unknown' },
]

// Written last, after all tuning; never tuned on. Its accuracy is the honest estimate.
export const HELD_OUT: Labelled[] = [
  { text: 'grabbed a pie and a coffee, 14.50', intent: 'add_expense', entities: { amount: '14.50', category: 'dining' } },
  { text: '$230 at the tyre shop in Kununurra', intent: 'add_expense', entities: { amount: '230.00', place: 'Kununurra' } },
  { text: 'paid 65 for two nights at a BIG4', intent: 'add_expense', entities: { amount: '65.00', category: 'camping' } },
  { text: 'spent 18 at the laundromat yesterday', intent: 'add_expense', entities: { amount: '18.00', category: 'utilities', date: '2026-03-03' } },
  { text: 'medicare gap for the doctor $42', intent: 'add_expense', entities: { amount: '42.00', category: 'health' } },
  { text: 'bought a new sim card for $10 on Monday', intent: 'add_expense', entities: { amount: '10.00', category: 'connectivity', date: '2026-03-02' } },
  { text: 'the ferry to Kangaroo Island cost us $398', intent: 'add_expense', entities: { amount: '398.00', category: 'tolls' } },
  { text: 'bakery run 9.80', intent: 'add_expense', entities: { amount: '9.80', category: 'dining' } },

  { text: 'got paid for the mango picking, 1,420', intent: 'add_income', entities: { amount: '1420.00' } },
  { text: 'sold some photos online for $85', intent: 'add_income', entities: { amount: '85.00' } },
  { text: 'earned 560 camp hosting last week', intent: 'add_income', entities: { amount: '560.00' } },

  { text: 'how much did we spend on tolls in total', intent: 'spending_summary', entities: { category: 'tolls' } },
  { text: 'what has eating out cost me this month', intent: 'spending_summary', entities: { category: 'dining', period: 'month:0' } },
  { text: 'show last week’s spending', intent: 'spending_summary', entities: { period: 'week:-1' } },
  { text: 'how much have I forked out for camping fees this year', intent: 'spending_summary', entities: { category: 'camping', period: 'year:0' } },

  { text: 'how am I tracking against the fuel budget', intent: 'budget_status', entities: { category: 'fuel' } },
  { text: 'is there any room left in the food budget', intent: 'budget_status', entities: { category: 'food' } },
  { text: 'did we go over budget last month', intent: 'budget_status' },

  { text: 'set the camping budget to 400 a month', intent: 'set_budget', entities: { amount: '400.00', category: 'camping' } },
  { text: 'put a $70 weekly limit on takeaway', intent: 'set_budget', entities: { amount: '70.00', category: 'dining' } },
  { text: 'make my fuel budget 1.2k a month', intent: 'set_budget', entities: { amount: '1200.00', category: 'fuel' } },

  { text: 'add 150 to the solar fund', intent: 'savings_goal', entities: { amount: '150.00' } },
  { text: 'how far off is the new caravan goal', intent: 'savings_goal' },
  { text: 'start saving for a trip to the Kimberley, target 6k', intent: 'savings_goal', entities: { amount: '6000.00' } },

  { text: 'filled up at the Caltex in Dubbo, 71L for $152', intent: 'log_fuel', entities: { litres: 71, amount: '152.00', place: 'Dubbo' } },
  { text: 'diesel 58 litres at 1.97', intent: 'log_fuel', entities: { litres: 58 } },
  { text: 'fuel: $96, odo 201,330', intent: 'log_fuel', entities: { amount: '96.00', odometer: 201330 } },
  { text: 'topped the tank up with 35 litres at Ampol', intent: 'log_fuel', entities: { litres: 35 } },

  { text: 'had the tyres balanced and rotated in Dubbo', intent: 'log_maintenance', entities: { place: 'Dubbo' } },
  { text: 'replaced the van battery yesterday, 310 bucks', intent: 'log_maintenance', entities: { amount: '310.00', date: '2026-03-03' } },
  { text: 'oil change done, 188,450 on the clock', intent: 'log_maintenance', entities: { odometer: 188450 } },

  { text: 'when is the next oil change due', intent: 'maintenance_due' },
  { text: 'does anything need doing on the caravan soon', intent: 'maintenance_due' },
  { text: 'are the brakes due for a check', intent: 'maintenance_due' },

  { text: 'plan a route from Townsville to Mount Isa with overnight stops', intent: 'plan_trip', entities: { origin: 'Townsville', destination: 'Mount Isa' } },
  { text: 'how far to Coober Pedy from here', intent: 'plan_trip', entities: { destination: 'Coober Pedy' } },
  { text: "let's plan the Great Ocean Road next week", intent: 'plan_trip' },

  { text: 'any free campsites near Carnarvon Gorge', intent: 'find_camping', entities: { place: 'Carnarvon Gorge' } },
  { text: 'where can we camp near Katherine with the dog', intent: 'find_camping', entities: { place: 'Katherine' } },
  { text: 'looking for a caravan park in Bairnsdale', intent: 'find_camping', entities: { place: 'Bairnsdale' } },

  { text: 'what will the weather do on the weekend', intent: 'weather' },
  { text: 'is it too hot to drive the Tanami tomorrow', intent: 'weather', entities: { date: '2026-03-05' } },
  { text: 'forecast for Esperance on Sunday', intent: 'weather', entities: { place: 'Esperance', date: '2026-03-08' } },

  { text: 'save this spot as a favourite', intent: 'saved_places' },
  { text: 'show me the places I saved near Broome', intent: 'saved_places' },

  { text: 'post a pic of the Bungle Bungles to my feed', intent: 'social_post' },
  { text: 'share our trip to Cape York with the group', intent: 'social_post' },
  { text: 'what are people saying in the group', intent: 'social_feed' },
  { text: 'latest posts from the van life community', intent: 'social_feed' },

  { text: 'we tow a 21ft Jayco with a Land Cruiser', intent: 'remember' },
  { text: "remember we don't eat pork", intent: 'remember' },
  { text: 'forget that we have a dog', intent: 'forget' },
  { text: 'how are our finances looking overall', intent: 'insights' },
  { text: 'hello pam', intent: 'greeting' },
  { text: 'what sort of things can you do', intent: 'help' },
  { text: 'what time does the footy start', intent: 'unknown' },
]
