package host

import (
	"context"
	"errors"
	"net"
	"testing"

	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestRemoveOnAnOldPlugin: a plugin built before Remove existed answers
// Unimplemented, which the client reports as ErrRemoveUnsupported.
func TestRemoveOnAnOldPlugin(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterDestinationServer(srv, pb.UnimplementedDestinationServer{}) // what an old plugin serves for Remove
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &Client{rpc: pb.NewDestinationClient(conn)}
	if err := c.Remove(context.Background(), "d@1"); !errors.Is(err, ErrRemoveUnsupported) {
		t.Fatalf("remove: %v, want %v", err, ErrRemoveUnsupported)
	}
}
