/*
 * cplane.v1.ClusterService's name and method paths, once, for the worker
 * that serves them and the driver that calls them.  The messages are the
 * generated cplane/v1/cplane.pb-c.h (from proto/cplane/v1/cplane.proto).
 */
#ifndef CPLANE_V1_METHODS_H
#define CPLANE_V1_METHODS_H

#define CPLANE_SERVICE "cplane.v1.ClusterService"

/* The :path of a method: "/cplane.v1.ClusterService/" name. */
#define CPLANE_PATH(name) "/" CPLANE_SERVICE "/" name
#define CPLANE_PATH_CREATE CPLANE_PATH("CreateCluster")
#define CPLANE_PATH_DELETE CPLANE_PATH("DeleteCluster")
#define CPLANE_PATH_GET CPLANE_PATH("GetCluster")
#define CPLANE_PATH_LIST CPLANE_PATH("ListClusters")
#define CPLANE_PATH_WATCH CPLANE_PATH("WatchCluster")
#define CPLANE_PATH_UPDATE CPLANE_PATH("UpdateCluster")

#endif
