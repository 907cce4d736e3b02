//go:build !linux

package check

import (
	"context"

	"github.com/shirou/gopsutil/v4/net"
)

type netReader struct{}

func (netReader) read(ctx context.Context, fn func(name []byte, v netCounters)) error {
	ios, err := net.IOCountersWithContext(ctx, true)
	if err != nil {
		return err
	}
	for _, s := range ios {
		v := netCounters{s.BytesRecv, s.BytesSent, s.PacketsRecv, s.PacketsSent,
			s.Errin, s.Errout, s.Dropin, s.Dropout}
		fn([]byte(s.Name), v)
	}
	return nil
}
