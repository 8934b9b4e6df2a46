// Side-by-side peer for bench/grpc: grpc C++ (Debian libgrpc++-dev), callback
// API, answering GetCluster from memory like tests/grpc_test_server.c.
// Prints "port=N" once listening; runs until killed.
#include <cstdio>
#include <memory>

#include <grpcpp/grpcpp.h>

#include "cplane/v1/cplane.grpc.pb.h"

class Service final : public cplane::v1::ClusterService::CallbackService {
	grpc::ServerUnaryReactor *GetCluster(grpc::CallbackServerContext *ctx,
	    const cplane::v1::GetClusterRequest *req, cplane::v1::Cluster *resp) override
	{
		resp->set_name(req->name());
		resp->set_replicas(3);
		resp->set_ready_replicas(3);
		resp->set_phase(cplane::v1::READY);
		resp->set_image("registry.k8s.io/pause:3.9");
		resp->set_created_unix_ms(1700000000000LL);
		grpc::ServerUnaryReactor *r = ctx->DefaultReactor();
		r->Finish(grpc::Status::OK);
		return r;
	}
};

int main()
{
	Service svc;
	grpc::ServerBuilder b;
	int port = 0;

	b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
	b.RegisterService(&svc);
	std::unique_ptr<grpc::Server> s = b.BuildAndStart();
	if (!s || port == 0)
		return 1;
	std::printf("port=%d\n", port);
	std::fflush(stdout);
	s->Wait();
	return 0;
}
