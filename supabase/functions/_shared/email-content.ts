// What an email says: a notification (or a day's digest of them) in the
// traveller's language (en, es, fr, de; English otherwise) and units (money
// in its currency, distances in km or mi, dates and numbers as the language
// writes them), with a subject per kind, a plain-text part always, a small
// HTML part, and the unsubscribe link in the body. Built from the
// notification's data, not its stored English title, wherever the kind is
// known; a kind this file does not know keeps its title and body.

export const LANGUAGES = ['en', 'es', 'fr', 'de'] as const
export type Language = typeof LANGUAGES[number]

/** The email language of a profile's `language` (a tag such as `es-AR`): its primary subtag when supported, else English. */
export function languageOf(tag: unknown): Language {
  const primary = typeof tag === 'string' ? tag.split('-')[0].toLowerCase() : ''
  return (LANGUAGES as readonly string[]).includes(primary) ? primary as Language : 'en'
}

export interface Recipient {
  name: string
  /** profiles.preferences */
  preferences: Record<string, unknown>
}

/** What the delivery job knows besides the notification row (joined at claim time). */
export interface Extras {
  actor?: string | null
  group?: string | null
  vehicle?: string | null
  category_label?: string | null
  report?: { total_spent: string; currency: string; expense_count: number; distance_km: string | null } | null
}

export interface NotificationRow {
  id: string
  kind: string
  title: string
  body: string
  data: Record<string, unknown>
  created_at: string | Date
  extras?: Extras
}

export interface Rendered {
  subject: string
  text: string
  html: string
  language: Language
}

type Strings = typeof EN
const EN = {
  budgetAt: (label: string, pct: string) => `${label} budget at ${pct}`,
  budgetUsed: (label: string) => `${label} budget used up`,
  budgetBody: (spent: string, available: string, what: string, period: string, from: string, to: string) =>
    `You have spent ${spent} of ${available} on ${what} ${period} (${from} to ${to}).`,
  periods: { weekly: 'this week', monthly: 'this month', yearly: 'this year' } as Record<string, string>,
  maintenanceDue: (task: string, vehicle: string) => `${task} is due soon on ${vehicle}`,
  maintenanceOverdue: (task: string, vehicle: string) => `${task} is overdue on ${vehicle}`,
  dueOn: (date: string, days: number) => `Due on ${date} (in ${days} ${days === 1 ? 'day' : 'days'}).`,
  wasDueOn: (date: string) => `It was due on ${date}.`,
  dueAt: (reading: string, left: string) => `Due at ${reading} on the odometer (${left} to go).`,
  wasDueAt: (reading: string) => `It was due at ${reading} on the odometer.`,
  reportSubject: (date: string) => `Your day on ${date}`,
  reportBody: (spent: string, n: number, distance: string | null) =>
    `You spent ${spent} in ${n} ${n === 1 ? 'expense' : 'expenses'}${distance ? ` and drove ${distance}` : ''}.`,
  reminderSubject: (title: string) => `Reminder: ${title}`,
  startsAt: (title: string, when: string) => `${title} starts ${when}.`,
  onDay: (date: string) => `on ${date}`,
  at: (when: string) => `at ${when}`,
  like: (who: string) => `${who} liked your post`,
  comment: (who: string) => `${who} commented on your post`,
  friendRequest: (who: string) => `${who} wants to be your friend`,
  friendAccepted: (who: string) => `${who} accepted your friend request`,
  invitation: (who: string, group: string) => `${who} invited you to ${group}`,
  reportReviewed: 'Your report was reviewed',
  someone: 'A traveller',
  digestSubject: (n: number) => `Your PAM digest: ${n} ${n === 1 ? 'update' : 'updates'}`,
  digestIntro: (name: string) => `Hello ${name}, here is what happened today.`,
  greeting: (name: string) => `Hello ${name},`,
  openApp: 'Open PAM to see the details.',
  why: (what: string) => `You get this email because email is on for ${what} in your PAM settings.`,
  whyDigest: 'You get this email because some of your notifications are set to a daily digest in your PAM settings.',
  unsubscribe: (what: string) => `Stop emails about ${what}:`,
  kinds: {
    budget_threshold: 'budget alerts',
    maintenance_due: 'maintenance reminders',
    report_ready: 'daily reports',
    social: 'community activity',
    event_reminder: 'calendar reminders',
    document_expiring: 'document expiry reminders',
    digest: 'the daily digest',
  } as Record<string, string>,
  otherKind: 'these notifications',
}
const ES: Strings = {
  budgetAt: (label, pct) => `Presupuesto de ${label} al ${pct}`,
  budgetUsed: (label) => `Presupuesto de ${label} agotado`,
  budgetBody: (spent, available, what, period, from, to) =>
    `Has gastado ${spent} de ${available} en ${what} ${period} (del ${from} al ${to}).`,
  periods: { weekly: 'esta semana', monthly: 'este mes', yearly: 'este año' },
  maintenanceDue: (task, vehicle) => `${task} vence pronto en ${vehicle}`,
  maintenanceOverdue: (task, vehicle) => `${task} está vencido en ${vehicle}`,
  dueOn: (date, days) => `Vence el ${date} (en ${days} ${days === 1 ? 'día' : 'días'}).`,
  wasDueOn: (date) => `Venció el ${date}.`,
  dueAt: (reading, left) => `Vence a los ${reading} del odómetro (faltan ${left}).`,
  wasDueAt: (reading) => `Venció a los ${reading} del odómetro.`,
  reportSubject: (date) => `Tu día del ${date}`,
  reportBody: (spent, n, distance) =>
    `Gastaste ${spent} en ${n} ${n === 1 ? 'gasto' : 'gastos'}${distance ? ` y recorriste ${distance}` : ''}.`,
  reminderSubject: (title) => `Recordatorio: ${title}`,
  startsAt: (title, when) => `${title} empieza ${when}.`,
  onDay: (date) => `el ${date}`,
  at: (when) => `el ${when}`,
  like: (who) => `A ${who} le gustó tu publicación`,
  comment: (who) => `${who} comentó tu publicación`,
  friendRequest: (who) => `${who} quiere ser tu amigo`,
  friendAccepted: (who) => `${who} aceptó tu solicitud de amistad`,
  invitation: (who, group) => `${who} te invitó a ${group}`,
  reportReviewed: 'Tu denuncia fue revisada',
  someone: 'Un viajero',
  digestSubject: (n) => `Tu resumen de PAM: ${n} ${n === 1 ? 'novedad' : 'novedades'}`,
  digestIntro: (name) => `Hola ${name}, esto es lo que pasó hoy.`,
  greeting: (name) => `Hola ${name}:`,
  openApp: 'Abre PAM para ver los detalles.',
  why: (what) => `Recibes este correo porque tienes activado el correo para ${what} en tus ajustes de PAM.`,
  whyDigest: 'Recibes este correo porque algunas de tus notificaciones llegan en un resumen diario según tus ajustes de PAM.',
  unsubscribe: (what) => `Dejar de recibir correos sobre ${what}:`,
  kinds: {
    budget_threshold: 'alertas de presupuesto',
    maintenance_due: 'recordatorios de mantenimiento',
    report_ready: 'informes diarios',
    social: 'actividad de la comunidad',
    event_reminder: 'recordatorios del calendario',
    document_expiring: 'avisos de documentos por vencer',
    digest: 'el resumen diario',
  },
  otherKind: 'estas notificaciones',
}
const FR: Strings = {
  budgetAt: (label, pct) => `Budget ${label} à ${pct}`,
  budgetUsed: (label) => `Budget ${label} épuisé`,
  budgetBody: (spent, available, what, period, from, to) =>
    `Vous avez dépensé ${spent} sur ${available} en ${what} ${period} (du ${from} au ${to}).`,
  periods: { weekly: 'cette semaine', monthly: 'ce mois-ci', yearly: 'cette année' },
  maintenanceDue: (task, vehicle) => `${task} bientôt à faire sur ${vehicle}`,
  maintenanceOverdue: (task, vehicle) => `${task} en retard sur ${vehicle}`,
  dueOn: (date, days) => `À faire le ${date} (dans ${days} ${days === 1 ? 'jour' : 'jours'}).`,
  wasDueOn: (date) => `C'était à faire le ${date}.`,
  dueAt: (reading, left) => `À faire à ${reading} au compteur (encore ${left}).`,
  wasDueAt: (reading) => `C'était à faire à ${reading} au compteur.`,
  reportSubject: (date) => `Votre journée du ${date}`,
  reportBody: (spent, n, distance) =>
    `Vous avez dépensé ${spent} en ${n} ${n === 1 ? 'dépense' : 'dépenses'}${distance ? ` et parcouru ${distance}` : ''}.`,
  reminderSubject: (title) => `Rappel : ${title}`,
  startsAt: (title, when) => `${title} commence ${when}.`,
  onDay: (date) => `le ${date}`,
  at: (when) => `le ${when}`,
  like: (who) => `${who} a aimé votre publication`,
  comment: (who) => `${who} a commenté votre publication`,
  friendRequest: (who) => `${who} souhaite devenir votre ami`,
  friendAccepted: (who) => `${who} a accepté votre demande d'ami`,
  invitation: (who, group) => `${who} vous a invité à ${group}`,
  reportReviewed: 'Votre signalement a été examiné',
  someone: 'Un voyageur',
  digestSubject: (n) => `Votre résumé PAM : ${n} ${n === 1 ? 'nouveauté' : 'nouveautés'}`,
  digestIntro: (name) => `Bonjour ${name}, voici ce qui s'est passé aujourd'hui.`,
  greeting: (name) => `Bonjour ${name},`,
  openApp: 'Ouvrez PAM pour les détails.',
  why: (what) => `Vous recevez cet e-mail car l'e-mail est activé pour ${what} dans vos réglages PAM.`,
  whyDigest: 'Vous recevez cet e-mail car certaines de vos notifications arrivent dans un résumé quotidien selon vos réglages PAM.',
  unsubscribe: (what) => `Ne plus recevoir d'e-mails pour ${what} :`,
  kinds: {
    budget_threshold: 'les alertes de budget',
    maintenance_due: "les rappels d'entretien",
    report_ready: 'les rapports quotidiens',
    social: "l'activité de la communauté",
    event_reminder: 'les rappels du calendrier',
    document_expiring: 'les rappels de documents qui expirent',
    digest: 'le résumé quotidien',
  },
  otherKind: 'ces notifications',
}
const DE: Strings = {
  budgetAt: (label, pct) => `Budget ${label} bei ${pct}`,
  budgetUsed: (label) => `Budget ${label} aufgebraucht`,
  budgetBody: (spent, available, what, period, from, to) =>
    `Sie haben ${spent} von ${available} für ${what} ${period} ausgegeben (${from} bis ${to}).`,
  periods: { weekly: 'diese Woche', monthly: 'diesen Monat', yearly: 'dieses Jahr' },
  maintenanceDue: (task, vehicle) => `${task} bald fällig: ${vehicle}`,
  maintenanceOverdue: (task, vehicle) => `${task} überfällig: ${vehicle}`,
  dueOn: (date, days) => `Fällig am ${date} (in ${days} ${days === 1 ? 'Tag' : 'Tagen'}).`,
  wasDueOn: (date) => `Es war am ${date} fällig.`,
  dueAt: (reading, left) => `Fällig bei ${reading} Kilometerstand (noch ${left}).`,
  wasDueAt: (reading) => `Es war bei ${reading} Kilometerstand fällig.`,
  reportSubject: (date) => `Ihr Tag am ${date}`,
  reportBody: (spent, n, distance) =>
    `Sie haben ${spent} in ${n} ${n === 1 ? 'Ausgabe' : 'Ausgaben'} ausgegeben${distance ? ` und ${distance} zurückgelegt` : ''}.`,
  reminderSubject: (title) => `Erinnerung: ${title}`,
  startsAt: (title, when) => `${title} beginnt ${when}.`,
  onDay: (date) => `am ${date}`,
  at: (when) => `am ${when}`,
  like: (who) => `${who} gefällt Ihr Beitrag`,
  comment: (who) => `${who} hat Ihren Beitrag kommentiert`,
  friendRequest: (who) => `${who} möchte mit Ihnen befreundet sein`,
  friendAccepted: (who) => `${who} hat Ihre Freundschaftsanfrage angenommen`,
  invitation: (who, group) => `${who} hat Sie zu ${group} eingeladen`,
  reportReviewed: 'Ihre Meldung wurde geprüft',
  someone: 'Ein Reisender',
  digestSubject: (n) => `Ihre PAM-Zusammenfassung: ${n} ${n === 1 ? 'Neuigkeit' : 'Neuigkeiten'}`,
  digestIntro: (name) => `Hallo ${name}, das ist heute passiert.`,
  greeting: (name) => `Hallo ${name},`,
  openApp: 'Öffnen Sie PAM für die Details.',
  why: (what) => `Sie erhalten diese E-Mail, weil E-Mails für ${what} in Ihren PAM-Einstellungen aktiviert sind.`,
  whyDigest: 'Sie erhalten diese E-Mail, weil einige Ihrer Benachrichtigungen laut Ihren PAM-Einstellungen als tägliche Zusammenfassung kommen.',
  unsubscribe: (what) => `Keine E-Mails mehr zu ${what}:`,
  kinds: {
    budget_threshold: 'Budgetwarnungen',
    maintenance_due: 'Wartungserinnerungen',
    report_ready: 'Tagesberichte',
    social: 'Community-Aktivitäten',
    event_reminder: 'Kalendererinnerungen',
    document_expiring: 'Erinnerungen an ablaufende Dokumente',
    digest: 'die tägliche Zusammenfassung',
  },
  otherKind: 'diese Benachrichtigungen',
}
const STRINGS: Record<Language, Strings> = { en: EN, es: ES, fr: FR, de: DE }

/** Built-in category labels per language (custom categories keep their own label). */
const CATEGORY_LABELS: Record<Language, Record<string, string>> = {
  en: {
    fuel: 'Fuel', camping: 'Camping and site fees', food: 'Food and groceries', dining: 'Dining out',
    maintenance: 'Maintenance and repairs', insurance: 'Insurance', registration: 'Registration',
    tolls: 'Tolls and ferries', utilities: 'Propane and utilities', connectivity: 'Phone and internet',
    entertainment: 'Entertainment', health: 'Health', other: 'Other',
  },
  es: {
    fuel: 'Combustible', camping: 'Camping y tarifas', food: 'Comida y supermercado', dining: 'Restaurantes',
    maintenance: 'Mantenimiento y reparaciones', insurance: 'Seguro', registration: 'Matriculación',
    tolls: 'Peajes y ferris', utilities: 'Gas y servicios', connectivity: 'Teléfono e internet',
    entertainment: 'Ocio', health: 'Salud', other: 'Otros',
  },
  fr: {
    fuel: 'Carburant', camping: 'Camping et emplacements', food: 'Alimentation et courses', dining: 'Restaurants',
    maintenance: 'Entretien et réparations', insurance: 'Assurance', registration: 'Immatriculation',
    tolls: 'Péages et ferries', utilities: 'Gaz et services', connectivity: 'Téléphone et internet',
    entertainment: 'Loisirs', health: 'Santé', other: 'Autre',
  },
  de: {
    fuel: 'Kraftstoff', camping: 'Camping und Stellplätze', food: 'Lebensmittel', dining: 'Restaurants',
    maintenance: 'Wartung und Reparaturen', insurance: 'Versicherung', registration: 'Zulassung',
    tolls: 'Maut und Fähren', utilities: 'Gas und Nebenkosten', connectivity: 'Telefon und Internet',
    entertainment: 'Freizeit', health: 'Gesundheit', other: 'Sonstiges',
  },
}

const KM_PER_MILE = 1.609344

/** How this traveller reads numbers, money, distances and dates. */
export class Units {
  readonly language: Language
  readonly locale: string
  readonly distance: 'km' | 'mi'
  readonly currency: string

  constructor(prefs: Record<string, unknown>) {
    this.language = languageOf(prefs.language)
    const tag = typeof prefs.language === 'string' && prefs.language.toLowerCase().startsWith(this.language)
      ? prefs.language
      : this.language
    this.locale = Intl.NumberFormat.supportedLocalesOf([tag]).length ? tag : this.language
    const imperial = prefs.units === 'imperial'
    this.distance = prefs.distance_unit === 'mi' || prefs.distance_unit === 'km'
      ? prefs.distance_unit
      : imperial ? 'mi' : 'km'
    this.currency = typeof prefs.currency === 'string' && /^[A-Z]{3}$/.test(prefs.currency) ? prefs.currency : 'AUD'
  }

  number(value: number, digits = 0): string {
    return new Intl.NumberFormat(this.locale, { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(value)
  }

  money(amount: unknown, currency: unknown = this.currency): string {
    const value = Number(amount)
    const code = typeof currency === 'string' && /^[A-Z]{3}$/.test(currency) ? currency : this.currency
    if (!Number.isFinite(value)) return `${amount} ${code}`
    return new Intl.NumberFormat(this.locale, { style: 'currency', currency: code }).format(value)
  }

  percent(value: unknown): string {
    const n = Number(value)
    return Number.isFinite(n) ? new Intl.NumberFormat(this.locale, { style: 'percent', maximumFractionDigits: 1 }).format(n / 100) : `${value}%`
  }

  /** A distance measured in `unit`, shown in the traveller's unit. */
  distanceOf(value: unknown, unit: 'km' | 'mi' = 'km'): string {
    const n = Number(value)
    if (!Number.isFinite(n)) return `${value} ${unit}`
    const km = unit === 'mi' ? n * KM_PER_MILE : n
    const shown = this.distance === 'mi' ? km / KM_PER_MILE : km
    return `${this.number(shown, shown < 100 ? 1 : 0)} ${this.distance}`
  }

  /** An odometer reading, in its vehicle's unit (what the dial shows). */
  reading(value: unknown, unit: unknown): string {
    const n = Number(value)
    return `${Number.isFinite(n) ? this.number(n) : value} ${unit === 'mi' ? 'mi' : 'km'}`
  }

  /** A calendar day (YYYY-MM-DD) as the language writes it. */
  day(value: unknown): string {
    const s = String(value ?? '')
    if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return s
    return new Intl.DateTimeFormat(this.locale, { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(`${s}T00:00:00Z`))
  }

  /** An instant on the wall clock of `timeZone`. */
  dateTime(value: unknown, timeZone: unknown): string {
    const date = new Date(String(value))
    if (Number.isNaN(date.getTime())) return String(value)
    const zone = typeof timeZone === 'string' ? timeZone : 'UTC'
    try {
      return new Intl.DateTimeFormat(this.locale, { dateStyle: 'long', timeStyle: 'short', timeZone: zone }).format(date)
    } catch {
      return new Intl.DateTimeFormat(this.locale, { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(date)
    }
  }
}

/** Subject and lines of one notification, in the traveller's words. */
export function describe(n: NotificationRow, units: Units): { subject: string; lines: string[] } {
  const t = STRINGS[units.language]
  const d = n.data ?? {}
  const x = n.extras ?? {}
  const s = (v: unknown) => (typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v))
  switch (n.kind) {
    case 'budget_threshold': {
      const slug = s(d.category)
      const label = CATEGORY_LABELS[units.language][slug] ?? x.category_label ?? slug
      // In the middle of a Spanish or French sentence a category is a common noun; German keeps its capital.
      const inSentence = units.language === 'es' || units.language === 'fr' ? label.toLocaleLowerCase(units.locale) : label
      const subject = Number(d.threshold) >= 100 ? t.budgetUsed(inSentence) : t.budgetAt(inSentence, units.percent(d.percent))
      return {
        subject,
        lines: [t.budgetBody(
          units.money(d.spent, d.currency),
          units.money(d.available, d.currency),
          units.language === 'de' ? label : label.toLocaleLowerCase(units.locale),
          t.periods[s(d.period)] ?? '',
          units.day(d.period_start),
          units.day(d.period_end),
        ).replace('  ', ' ')],
      }
    }
    case 'maintenance_due': {
      const vehicle = x.vehicle ?? ''
      const overdue = s(d.status) === 'overdue'
      const subject = overdue ? t.maintenanceOverdue(s(d.task), vehicle) : t.maintenanceDue(s(d.task), vehicle)
      const lines: string[] = []
      const days = Number(d.days_left)
      if (d.due_date) lines.push(days < 0 ? t.wasDueOn(units.day(d.due_date)) : t.dueOn(units.day(d.due_date), days))
      const unit = d.odometer_unit === 'mi' ? 'mi' : 'km'
      if (d.due_odometer !== null && d.due_odometer !== undefined) {
        const left = Number(d.distance_left)
        lines.push(
          left < 0
            ? t.wasDueAt(units.reading(d.due_odometer, unit))
            : t.dueAt(units.reading(d.due_odometer, unit), units.distanceOf(left, unit)),
        )
      }
      return { subject, lines }
    }
    case 'report_ready': {
      const r = x.report
      const subject = t.reportSubject(units.day(d.date))
      if (!r) return { subject, lines: [n.body] }
      const distance = r.distance_km === null ? null : units.distanceOf(r.distance_km, 'km')
      return { subject, lines: [t.reportBody(units.money(r.total_spent, r.currency), Number(r.expense_count), distance)] }
    }
    case 'event_reminder': {
      const occurrence = s(d.occurrence)
      const when = occurrence.includes('T')
        ? t.at(units.dateTime(d.starts_at, d.time_zone))
        : t.onDay(units.day(occurrence))
      return { subject: t.reminderSubject(n.title), lines: [t.startsAt(n.title, when)] }
    }
    case 'social': {
      const who = x.actor || t.someone
      const type = s(d.type)
      const subject = type === 'like'
        ? t.like(who)
        : type === 'comment'
        ? t.comment(who)
        : type === 'friend_request'
        ? t.friendRequest(who)
        : type === 'friend_accepted'
        ? t.friendAccepted(who)
        : type === 'group_invitation'
        ? t.invitation(who, x.group ?? '')
        : d.report_id
        ? t.reportReviewed
        : n.title
      return { subject, lines: n.body ? [n.body] : [] }
    }
    default:
      return { subject: n.title, lines: n.body ? [n.body] : [] }
  }
}

/** One notification's email. */
export function renderNotification(n: NotificationRow, to: Recipient, unsubscribeUrl: string): Rendered {
  const units = new Units(to.preferences)
  const t = STRINGS[units.language]
  const { subject, lines } = describe(n, units)
  const what = t.kinds[n.kind] ?? t.otherKind
  return finish(units.language, subject, [t.greeting(to.name), '', ...lines, '', t.openApp], [t.why(what), t.unsubscribe(what)], unsubscribeUrl)
}

/** A day's digest of notifications. */
export function renderDigest(items: NotificationRow[], to: Recipient, unsubscribeUrl: string): Rendered {
  const units = new Units(to.preferences)
  const t = STRINGS[units.language]
  const body: string[] = [t.digestIntro(to.name), '']
  for (const item of items) {
    const { subject, lines } = describe(item, units)
    body.push(`• ${subject}`, ...lines.map((l) => `  ${l}`), '')
  }
  body.push(t.openApp)
  return finish(units.language, t.digestSubject(items.length), body, [t.whyDigest, t.unsubscribe(t.kinds.digest)], unsubscribeUrl)
}

function finish(language: Language, subject: string, body: string[], footer: string[], unsubscribeUrl: string): Rendered {
  const oneLine = subject.replace(/[\r\n\t]+/g, ' ').trim().slice(0, 200)
  const text = [...body, '', '--', ...footer, unsubscribeUrl, ''].join('\n')
  const paragraphs = body.join('\n').split(/\n{2,}/).map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`).join('\n')
  const html = `<!doctype html>
<html lang="${language}"><head><meta charset="utf-8"><title>${escapeHtml(oneLine)}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1f2933; max-width: 36rem">
${paragraphs}
<hr>
<p style="font-size: 0.85em; color: #52606d">${footer.map(escapeHtml).join('<br>')}
<a href="${escapeHtml(unsubscribeUrl)}">${escapeHtml(unsubscribeUrl)}</a></p>
</body></html>
`
  return { subject: oneLine, text, html, language }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!))
}
