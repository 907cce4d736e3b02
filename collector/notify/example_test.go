package notify_test

import (
	"fmt"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
	"github.com/vigilmon/vigil/collector/notify"
)

// A fleet-wide failure within the window is one notification.
func ExampleGrouper() {
	g := notify.Grouper{Window: 30 * time.Second}
	start := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	for i, agent := range []string{"web1", "web2", "web3", "db1"} {
		at := start.Add(time.Duration(i) * time.Second)
		g.Add("acme", "al-disk", "disk full", notify.Transition{Agent: agent, Check: "disk",
			From: alarm.StateOK, To: alarm.StateCritical, At: at}, at)
	}
	fmt.Println(len(g.Flush(start.Add(29*time.Second))), "ready after 29s")
	for _, n := range g.Flush(start.Add(30 * time.Second)) {
		fmt.Println(n.Summary())
	}
	// Output:
	// 0 ready after 29s
	// disk full: 4 agents CRITICAL (web1, web2, web3, db1)
}
