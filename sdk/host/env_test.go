package host

import (
	"strings"
	"testing"
)

func TestPluginEnviron(t *testing.T) {
	environ := []string{"PATH=/usr/bin", "HOME=/home/x", "LANG=C.UTF-8", "EXPORTD_PG_DSN=postgres://u:p@h/db",
		"AWS_ACCESS_KEY_ID=AK", "AWS_REGION=eu-west-1", "AWSX=1", "NATS_CREDS=/etc/creds", "TZ=UTC", "BROKEN"}
	tests := []struct {
		name    string
		inherit []string
		want    string
		err     string
	}{
		{name: "base only", want: "PATH=/usr/bin HOME=/home/x LANG=C.UTF-8 TZ=UTC"},
		{name: "prefix", inherit: []string{"AWS_*"}, want: "PATH=/usr/bin HOME=/home/x LANG=C.UTF-8 AWS_ACCESS_KEY_ID=AK AWS_REGION=eu-west-1 TZ=UTC"},
		{name: "exact name", inherit: []string{"AWS_REGION", "NATS"}, want: "PATH=/usr/bin HOME=/home/x LANG=C.UTF-8 AWS_REGION=eu-west-1 TZ=UTC"},
		{name: "everything refused", inherit: []string{"*"}, err: "whole environment"},
		{name: "not a name", inherit: []string{"AWS-*"}, err: "not a variable name"},
		{name: "star inside", inherit: []string{"A*B"}, err: "not a variable name"},
		{name: "leading digit", inherit: []string{"1A"}, err: "not a variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pluginEnviron(environ, tt.inherit)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error saying %q", err, tt.err)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != tt.want {
				t.Fatalf("got %q, %v\nwant %q", strings.Join(got, " "), err, tt.want)
			}
		})
	}
}
