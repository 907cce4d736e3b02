// Package notify sends alarm notifications: the Notification value,
// idempotency keys, grouping, the receivers (webhook, Slack-compatible,
// PagerDuty Events v2, Alertmanager v2, e-mail over SMTP) and a Deliverer
// that retries through a Queue. It touches no storage: the Queue is an
// interface, and MemQueue, the one implementation here, is in memory.
//
// collector/alarmeval drives Deliverer over a durable Queue in the store
// (alarmeval.StoreQueue) with the receivers of notification plans. Not
// yet wired: Grouper (each transition is its own notification),
// suppressions, the /v1/ API for receivers and a test-notification
// endpoint.
//
// # Notifications and idempotency
//
// A Transition is one agent's check changing state (from, to, the
// observation's time, a message). A Notification carries one alarm's
// transitions to one state: a single one, or a group that Grouper
// gathered within its Window (default 30s), so a fleet-wide failure is
// one notification ("disk full: 12 agents CRITICAL (web1, ... and 2
// more)"), listing at most MaxListed transitions and counting the rest.
//
// Transition.Key is a hash of tenant, alarm, agent, check, from, to and
// the observation time (not the message): the same transition gets the
// same key on every collector and every retry. A group's key is derived
// from its members' keys, independent of their order. Receivers get the
// key as the Idempotency-Key header (HTTP receivers), the
// idempotency_key field or annotation (webhook JSON, PagerDuty custom
// details, Alertmanager), and the Message-ID and X-Vigil-Idempotency-Key
// headers (e-mail). A Delivery's ID is key + "/" + receiver name, and
// Queue.Enqueue ignores an ID it holds, so enqueueing twice sends once.
//
// # Receivers
//
// Each receiver has a config struct validated by its constructor, or
// read from JSON by ParseReceiver ({"type": "webhook", ...}, unknown
// fields refused); errors name the field and the rule. HTTP receivers
// take an http or https url and a timeout (default 10s, at most 2m);
// every attempt is bounded by it.
//
//   - webhook (WebhookConfig): POST of the notification as JSON (tenant,
//     alarm_id, alarm_name, state, resolved, summary, count,
//     idempotency_key, transitions with agent, check, from, to, at,
//     message), or of a text/template rendered with the Notification and
//     a json function. headers adds request headers; max_body_bytes
//     (default 64 KiB, at most 1 MiB) bounds the body. Templates may
//     range only over fields (.Transitions, .Agents), two deep, and may
//     not define or call templates: output is bounded by the size limit,
//     and these rules bound the time.
//   - slack (SlackConfig): POST {"text": ...} to an incoming webhook
//     (Slack, Mattermost, Rocket.Chat): the summary and, for a group, one
//     line per transition.
//   - pagerduty (PagerDutyConfig): Events API v2, POST /v2/enqueue with
//     routing_key, event_action trigger (any non-OK state) or resolve
//     (OK), and dedup_key PagerDutyDedupKey: one per tenant and alarm, so
//     the resolve closes the incident the trigger opened and repeats
//     (retries included) merge into it. url defaults to PagerDuty's.
//   - alertmanager (AlertmanagerConfig): POST /api/v2/alerts, one alert
//     per transition and state with labels alertname (the alarm's name),
//     vigil_alarm_id, severity (the state, lower case), tenant, agent,
//     check and the configured labels; annotations summary, description
//     and idempotency_key. The alert of the state entered gets startsAt,
//     the alert of the state left gets endsAt (resolved). Vigil sends a
//     transition once and does not yet re-send firing alerts, so
//     Alertmanager's resolve_timeout (5m by default) must be raised to
//     the longest an alarm may stay firing.
//   - email (EmailConfig): SMTP to addr with STARTTLS when offered (tls
//     "starttls", the default), required ("require-starttls") or
//     implicit TLS ("tls"); AUTH PLAIN when username is set, never over
//     an unencrypted connection except to localhost; certificates
//     verified against the system's roots or ca_file. The message is
//     plain text, quoted-printable, at most max_message_bytes (default
//     256 KiB; a longer body is cut and marked), with From, To, Subject
//     (encoded, control characters removed), Date, Message-ID
//     <key@from-domain> and X-Vigil-* headers.
//
// Send classifies failures (SendError): network errors, timeouts, HTTP
// 408, 429 and 5xx, and SMTP 4xx are retryable, with an HTTP Retry-After
// (seconds or a date, ParseRetryAfter, capped at 24h) kept; other HTTP
// 4xx, SMTP 5xx, TLS and certificate errors, and bodies that cannot be
// rendered are permanent. At most 512 bytes of a response body are kept
// in an error, and URLs in errors keep only scheme and host, since
// webhook URLs are often secrets.
//
// # Delivery
//
// Deliverer.Notify enqueues a notification for named receivers;
// RunOnce (or Run, every interval) sends what is due and records each
// attempt (time, duration, status code, error) through Queue.Done or
// Queue.Failed. RetryPolicy: the n-th retry waits Base·2^(n-1) (default
// 10s), at most Max (default 1h), less up to Jitter (default 20 %) of it
// at random; a longer Retry-After wins. It gives up after MaxAttempts
// (default 10) or when the next attempt would come later than MaxAge
// (default 24h) after the notification was enqueued; permanent errors
// are not retried. A delivery is at least once: a receiver that accepted
// the request but whose answer was lost gets it again, with the same
// idempotency key.
package notify
