// Side-by-side peer for bench/grpc: grpc-go (Debian golang-google-grpc-dev,
// built in GOPATH mode), grpc.NewServer() defaults, answering GetCluster from
// memory like tests/grpc_test_server.c and peer_cpp.cc.
// Prints "port=N" once listening; runs until killed.
package main

import (
	"context"
	"fmt"
	"net"
	"os"

	pb "cplanepb"

	"google.golang.org/grpc"
)

type server struct {
	pb.UnimplementedClusterServiceServer
}

func (s *server) GetCluster(ctx context.Context, r *pb.GetClusterRequest) (*pb.Cluster, error) {
	return &pb.Cluster{
		Name:          r.Name,
		Replicas:      3,
		ReadyReplicas: 3,
		Phase:         pb.Phase_READY,
		Image:         "registry.k8s.io/pause:3.9",
		CreatedUnixMs: 1700000000000,
	}, nil
}

func main() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	pb.RegisterClusterServiceServer(s, &server{})
	fmt.Printf("port=%d\n", l.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	if err := s.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
