// Package suppression maps suppressions between the alarm package's
// model (scope lists, parsed windows) and the store's record. It is its
// own package so both the API and alarmeval use it without an import
// cycle (alarmeval's tests drive the API).
package suppression

import (
	"fmt"
	"strings"

	"github.com/vigilmon/vigil/collector/alarm"
	"github.com/vigilmon/vigil/collector/store"
)

// The store keeps a suppression in the fields it has: each scope list
// joined by newlines in Agent, Check and Alarm, and the windows' text
// (alarm.Window's String, one-shot windows included) joined by newlines
// in Recurring; Start and End stay zero. Names and windows hold no
// newline (the API refuses them), so the join is lossless. Each field
// holds at most store.MaxTextBytes, which bounds the lists.

// ToStore is s as the store keeps it for tenant.
func ToStore(tenant, name string, s alarm.Suppression) store.Suppression {
	ws := make([]string, len(s.Windows))
	for i, w := range s.Windows {
		ws[i] = w.String()
	}
	return store.Suppression{Tenant: tenant, ID: s.ID, Name: name,
		Agent: strings.Join(s.Scope.Agents, "\n"), Check: strings.Join(s.Scope.Checks, "\n"),
		Alarm: strings.Join(s.Scope.Alarms, "\n"), Recurring: strings.Join(ws, "\n"),
		NotifyOnRecovery: s.NotifyOnRecovery}
}

// FromStore reads a stored suppression back. One written by
// other means with Start and End set becomes a one-shot window.
func FromStore(sp store.Suppression) (alarm.Suppression, error) {
	s := alarm.Suppression{ID: sp.ID, NotifyOnRecovery: sp.NotifyOnRecovery,
		Scope: alarm.Scope{Agents: split(sp.Agent), Checks: split(sp.Check), Alarms: split(sp.Alarm)}}
	texts := split(sp.Recurring)
	if !sp.Start.IsZero() || !sp.End.IsZero() {
		texts = append(texts, sp.Start.Format("2006-01-02T15:04:05.999999999Z07:00")+"/"+sp.End.Format("2006-01-02T15:04:05.999999999Z07:00"))
	}
	for _, t := range texts {
		w, err := alarm.ParseWindow(t)
		if err != nil {
			return alarm.Suppression{}, fmt.Errorf("stored suppression %q of %s: %w", sp.ID, sp.Tenant, err)
		}
		s.Windows = append(s.Windows, w)
	}
	if err := s.Validate(); err != nil {
		return alarm.Suppression{}, fmt.Errorf("stored suppression of %s: %w", sp.Tenant, err)
	}
	return s, nil
}

func split(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, "\n")
}
