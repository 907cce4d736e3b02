package alarm_test

import (
	"fmt"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
)

func Example() {
	c, err := alarm.Parse(`:set consecutiveCount=2
if (metric['used_percent'] > 90) { return new AlarmStatus(CRITICAL, 'disk #{used_percent}% full'); }
return new AlarmStatus(OK);`)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := c.Settings(30 * time.Second)
	var m alarm.Machine
	start := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	for i, used := range []float64{50, 50, 95, 50, 95, 97} {
		at := start.Add(time.Duration(i) * 30 * time.Second)
		r := &alarm.Result{Time: at, Status: alarm.StatusOK, Metrics: []alarm.Metric{{Name: "used_percent", Value: alarm.Num(used)}}}
		if tr, eff := m.Observe(s, at, c.Evaluate(r, nil), at); eff == alarm.EffectTransition {
			fmt.Printf("%s %v -> %v %q\n", tr.At.Format("15:04:05"), tr.From, tr.To, tr.Message)
		}
	}
	_, err = alarm.Parse("if (metric['used_percent'] > 90 { return CRITICAL }")
	fmt.Println(err)
	// Output:
	// 03:00:30 NONE -> OK ""
	// 03:02:30 OK -> CRITICAL "disk 97% full"
	// criteria:1:33: expected ')' after the condition, found '{'
}
