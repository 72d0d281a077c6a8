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
/* To igraph (*ig must be uninitialised; destroy it with igraph_destroy; on error it is left
 * uninitialised). A symmetric graph becomes an undirected igraph with one edge per pair
 * (and one per self-loop); otherwise directed edges j -> i for each entry (i, j). Edge
 * values are not transferred. igraph errors: GP_E_FOREIGN with igraph's reason. */
GP_API gp_status gp_graph_to_igraph(igraph_t *ig, const gp_graph *g);
/* To a new GrB_FP32 matrix (a copy; values, or the iso value 1 when m->val is NULL). m must
 * pass gp_csr_check. Free it with GrB_Matrix_free. GraphBLAS errors: GP_E_FOREIGN. */
GP_API gp_status gp_csr_to_grb(GrB_Matrix *out, const gp_csr *m);
/* From any GrB matrix of a built-in type (values cast to float; the result always has a value
 * array). User-defined types: GP_E_FOREIGN (GrB_DOMAIN_MISMATCH). */
GP_API gp_status gp_csr_from_grb(gp_csr **out, GrB_Matrix m);

#ifdef __cplusplus
}
#endif
#endif
