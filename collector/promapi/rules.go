package promapi

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/vigilmon/vigil/collector/querylimit"
	"github.com/vigilmon/vigil/collector/rules"
)

// RuleQueryFunc evaluates the rule expressions of tenant with the API's
// engine over the tenant's series, within the query limits: the same
// queue, timeout and samples budget as query (the text and tree limits
// were checked when the rule file was loaded).
func (a *API) RuleQueryFunc(tenant string) rules.QueryFunc {
	return func(ctx context.Context, expr string, ts time.Time) (promql.Vector, error) {
		eng := a.eng() // sets a.Guard
		l := a.Guard.L()
		ctx, cancel := context.WithTimeout(ctx, l.Timeout)
		defer cancel()
		release, err := a.Guard.Enter(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
		res := a.resolution(ts, ts, 0)
		q := &queryable{st: a.Store, tenant: tenant, res: res, budget: querylimit.NewBudget(l.MaxSamples)}
		return rules.EngineQueryFunc(eng, q, opts(res))(ctx, expr, ts)
	}
}

// rules answers /api/v1/rules with the tenant's groups. type=alert or
// type=record filters as Prometheus does, leaving out groups with no rule
// left; recording rules are never loaded, so type=record lists none.
func (a *API) rules(r *http.Request, tenant string) (any, error) {
	typ := r.Form.Get("type")
	if typ != "" && typ != "alert" && typ != "record" {
		return nil, badData("invalid parameter \"type\": not supported value %q", typ)
	}
	d := rules.RulesData(a.Rules.Groups(tenant))
	if typ == "record" {
		d.RuleGroups = []*rules.RuleGroupJSON{}
	}
	return d, nil
}

// alerts answers /api/v1/alerts: the tenant's pending and firing alerts.
func (a *API) alerts(_ *http.Request, tenant string) (any, error) {
	return rules.AlertsData(a.Rules.Groups(tenant)), nil
}
