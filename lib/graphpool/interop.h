/*
 * Conversions between gp_graph and igraph / GraphBLAS. Include after <igraph.h> and
 * <GraphBLAS.h>; these are the only public functions that mention foreign types.
 */
#ifndef GRAPHPOOL_INTEROP_H
#define GRAPHPOOL_INTEROP_H

#include <igraph.h>
#include <GraphBLAS.h>
#include <graphpool/graph.h>

#ifdef __cplusplus
extern "C" {
#endif

/* From igraph: undirected graphs become symmetric (both directions); multi-edges and loops
 * follow flags (GP_EDGES_*). Edge weights are not read. */
GP_API gp_status gp_graph_from_igraph(gp_graph **out, const igraph_t *ig, unsigned flags);
/* To igraph (*ig must be uninitialised; destroy it with igraph_destroy). A symmetric graph
 * becomes an undirected igraph with one edge per pair; otherwise directed edges j -> i. */
GP_API gp_status gp_graph_to_igraph(igraph_t *ig, const gp_graph *g);
/* To a GrB_FP32 matrix (copy of the structure; values or ones). */
GP_API gp_status gp_csr_to_grb(GrB_Matrix *out, const gp_csr *m);
/* From any GrB matrix (values cast to float). */
GP_API gp_status gp_csr_from_grb(gp_csr **out, GrB_Matrix m);

#ifdef __cplusplus
}
#endif
#endif
