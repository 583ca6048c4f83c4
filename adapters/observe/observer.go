package observe

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/domain"
)

// Observer is what every decorator reports to: a logger for the Debug line of each
// call, the metrics (nil: none) and a way to read the request id from a context.
type Observer struct {
	log       *zap.Logger
	metrics   *Metrics
	requestID func(context.Context) string
	now       func() time.Time
}

// Options configure an Observer. Every field may be left zero.
type Options struct {
	Log     *zap.Logger
	Metrics *Metrics
	// RequestID reads the request id the HTTP adapter put in the context.
	RequestID func(context.Context) string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// New builds an Observer.
func New(o Options) *Observer {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.RequestID == nil {
		o.RequestID = func(context.Context) string { return "" }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Observer{log: o.Log, metrics: o.Metrics, requestID: o.RequestID, now: o.Now}
}

// call is one upstream call being timed.
type call struct {
	o        *Observer
	service  string
	provider string
	op       string
	tenant   domain.TenantID
	start    time.Time
}

func (o *Observer) begin(service, provider, op string, tenant domain.TenantID) call {
	return call{o: o, service: service, provider: provider, op: op, tenant: tenant, start: o.now()}
}

// outcomeOf classifies a finished call: an error the caller caused by cancelling ctx
// is "canceled", not an upstream failure.
func outcomeOf(ctx context.Context, err error) string {
	switch {
	case err == nil:
		return outcomeOK
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return outcomeCanceled
	}
	return outcomeError
}

// end records the call with the given outcome and logs it at Debug with fields, which
// must hold only ids, counts and durations.
func (c call) end(ctx context.Context, outcome string, err error, fields ...zap.Field) {
	latency := c.o.now().Sub(c.start)
	c.o.metrics.observe(c.service, c.provider, c.op, outcome, latency.Seconds(), err)
	if ce := c.o.log.Check(zap.DebugLevel, "upstream call"); ce != nil {
		fs := make([]zap.Field, 0, 9+len(fields))
		fs = append(fs,
			zap.String("service", c.service), zap.String("provider", c.provider), zap.String("operation", c.op),
			zap.String("outcome", outcome), zap.Duration("latency", latency))
		if id := c.o.requestID(ctx); id != "" {
			fs = append(fs, zap.String("request_id", id))
		}
		if c.tenant != "" {
			fs = append(fs, zap.String("tenant_id", string(c.tenant)))
		}
		if err != nil {
			// The kind and code only: a vendor's error text may quote the request.
			fs = append(fs, zap.String("error_kind", errorKind(err)))
			if de := domain.AsError(err); de != nil && de.Code != "" {
				fs = append(fs, zap.String("error_code", de.Code))
			}
		}
		ce.Write(append(fs, fields...)...)
	}
}
