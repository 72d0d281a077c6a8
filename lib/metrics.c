/*
 * Metrics.
 *
 * ROC-AUC by ranks, exactly: sort (score, label) ascending, and for each group of tied scores
 * with p positives and q negatives count the pairs it wins, 2U += p (2 neg_below + q) (a tie
 * counts 1/2), so AUC = 2U / (2 P N) with integer arithmetic up to the final division — the
 * same number as the mid-rank formula (R_pos - P(P+1)/2) / (P N).
 *
 * Average precision (scikit-learn): sort descending, thresholds at distinct scores,
 * AP = sum_k (R_k - R_{k-1}) P_k with the tie group entering at once.
 */
#include <math.h>
#include <stdlib.h>

#include <graphpool/metrics.h>

#include "internal.h"

typedef struct scored {
    double score;
    int64_t label; /* 0 or 1 */
} scored;

static int by_score_ascending(const void *a, const void *b)
{
    double x = ((const scored *)a)->score, y = ((const scored *)b)->score;
    return (x > y) - (x < y);
}

/* Copy scores with labels into a sorted array; validates labels and NaNs; counts classes. */
static gp_status gather_sorted(scored **out, int64_t *num_pos, int64_t n, const double *scores,
                               const int64_t *labels, int64_t num_pos_first, const double *neg,
                               const char *who)
{
    /* Two input forms: (scores, labels) when labels != NULL, else scores = the num_pos_first
     * positives followed by the n - num_pos_first values of neg. */
    *out = NULL;
    scored *r = gp_i_malloc(gp_i_mul_size((size_t)n, sizeof *r));
    if (!r) return GP_ERR(GP_E_NOMEM, "%s: out of memory for %lld scores", who, (long long)n);
    int64_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels) {
            r[i].score = scores[i];
            r[i].label = labels[i];
            if (labels[i] != 0 && labels[i] != 1) {
                gp_i_free(r);
                return GP_ERR(GP_E_INVALID, "%s: label %lld of item %lld is not 0 or 1", who,
                              (long long)labels[i], (long long)i);
            }
        } else {
            bool is_pos = i < num_pos_first;
            r[i].score = is_pos ? scores[i] : neg[i - num_pos_first];
            r[i].label = is_pos;
        }
        if (isnan(r[i].score)) {
            gp_i_free(r);
            return GP_ERR(GP_E_NUMERIC, "%s: score of item %lld is NaN", who, (long long)i);
        }
        pos += r[i].label;
    }
    qsort(r, (size_t)n, sizeof *r, by_score_ascending);
    *out = r;
    *num_pos = pos;
    return GP_OK;
}

static gp_status auc_sorted(double *auc, const scored *r, int64_t n, int64_t num_pos)
{
    int64_t num_neg = n - num_pos;
    if (num_pos == 0 || num_neg == 0)
        return GP_ERR(GP_E_INVALID, "roc_auc: undefined with %lld positives and %lld negatives",
                      (long long)num_pos, (long long)num_neg);
    int64_t twice_u = 0, neg_below = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, p = 0, q = 0;
        while (j < n && r[j].score == r[i].score) {
            p += r[j].label;
            j++;
        }
        q = (j - i) - p;
        twice_u += p * (2 * neg_below + q);
        neg_below += q;
        i = j;
    }
    *auc = (double)twice_u / (2.0 * (double)num_pos * (double)num_neg);
    return GP_OK;
}

static gp_status ap_sorted(double *ap, const scored *r, int64_t n, int64_t num_pos)
{
    if (num_pos == 0) return GP_ERR(GP_E_INVALID, "average_precision: no positive item");
    double sum = 0.0, prev_recall = 0.0;
    int64_t tp = 0, fp = 0;
    for (int64_t j = n; j > 0;) { /* descending: walk the ascending array from the end */
        int64_t i = j - 1;
        while (i > 0 && r[i - 1].score == r[j - 1].score) i--;
        for (int64_t k = i; k < j; k++) {
            tp += r[k].label;
            fp += 1 - r[k].label;
        }
        double recall = (double)tp / (double)num_pos;
        sum += (recall - prev_recall) * ((double)tp / (double)(tp + fp));
        prev_recall = recall;
        j = i;
    }
    *ap = sum;
    return GP_OK;
}

typedef gp_status (*sorted_metric)(double *, const scored *, int64_t, int64_t);

static gp_status run_metric(sorted_metric f, double *res, int64_t n, const double *scores,
                            const int64_t *labels, int64_t num_pos, const double *neg,
                            const char *who)
{
    if (!res || n < 0 || (n > 0 && !scores) || (labels == NULL && n > num_pos && !neg))
        return GP_ERR(GP_E_INVALID, "%s: NULL or bad argument", who);
    scored *r = NULL;
    int64_t pos = 0;
    gp_status st = gather_sorted(&r, &pos, n, scores, labels, num_pos, neg, who);
    if (st != GP_OK) return st;
    st = f(res, r, n, pos);
    gp_i_free(r);
    return st;
}

gp_status gp_roc_auc(double *auc, int64_t n, const double *scores, const int64_t *labels)
{
    if (!labels) return GP_ERR(GP_E_INVALID, "gp_roc_auc: labels is NULL");
    return run_metric(auc_sorted, auc, n, scores, labels, 0, NULL, "gp_roc_auc");
}

/* The _pn forms pass positives as `scores` and negatives as `neg` (no concatenation copy). */
gp_status gp_roc_auc_pn(double *auc, int64_t num_pos, const double *pos, int64_t num_neg,
                        const double *neg)
{
    if (num_pos < 0 || num_neg < 0 || (num_pos > 0 && !pos) || (num_neg > 0 && !neg))
        return GP_ERR(GP_E_INVALID, "gp_roc_auc_pn: NULL or bad argument");
    return run_metric(auc_sorted, auc, num_pos + num_neg, pos ? pos : neg, NULL, num_pos, neg,
                      "gp_roc_auc_pn");
}

gp_status gp_average_precision(double *ap, int64_t n, const double *scores, const int64_t *labels)
{
    if (!labels) return GP_ERR(GP_E_INVALID, "gp_average_precision: labels is NULL");
    return run_metric(ap_sorted, ap, n, scores, labels, 0, NULL, "gp_average_precision");
}

gp_status gp_average_precision_pn(double *ap, int64_t num_pos, const double *pos, int64_t num_neg,
                                  const double *neg)
{
    if (num_pos < 0 || num_neg < 0 || (num_pos > 0 && !pos) || (num_neg > 0 && !neg))
        return GP_ERR(GP_E_INVALID, "gp_average_precision_pn: NULL or bad argument");
    return run_metric(ap_sorted, ap, num_pos + num_neg, pos ? pos : neg, NULL, num_pos, neg,
                      "gp_average_precision_pn");
}

gp_status gp_accuracy(double *acc, int64_t n, const int64_t *pred, const int64_t *truth)
{
    if (!acc || n <= 0 || !pred || !truth)
        return GP_ERR(GP_E_INVALID, "gp_accuracy: NULL argument or n = %lld <= 0", (long long)n);
    int64_t right = 0;
    for (int64_t i = 0; i < n; i++) right += pred[i] == truth[i];
    *acc = (double)right / (double)n;
    return GP_OK;
}

gp_status gp_binary_accuracy(double *acc, int64_t n, const double *scores, const int64_t *labels,
                             double threshold)
{
    if (!acc || n <= 0 || !scores || !labels)
        return GP_ERR(GP_E_INVALID, "gp_binary_accuracy: NULL argument or n = %lld <= 0",
                      (long long)n);
    int64_t right = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1)
            return GP_ERR(GP_E_INVALID, "gp_binary_accuracy: label %lld of item %lld is not 0 or 1",
                          (long long)labels[i], (long long)i);
        if (isnan(scores[i]))
            return GP_ERR(GP_E_NUMERIC, "gp_binary_accuracy: score of item %lld is NaN",
                          (long long)i);
        right += (scores[i] > threshold) == (labels[i] == 1);
    }
    *acc = (double)right / (double)n;
    return GP_OK;
}

gp_status gp_confusion_matrix(int64_t *cm, int64_t num_classes, int64_t n, const int64_t *pred,
                              const int64_t *truth)
{
    if (!cm || num_classes <= 0 || n < 0 || (n > 0 && (!pred || !truth)))
        return GP_ERR(GP_E_INVALID, "gp_confusion_matrix: NULL or bad argument");
    for (int64_t i = 0; i < n; i++)
        if (pred[i] < 0 || pred[i] >= num_classes || truth[i] < 0 || truth[i] >= num_classes)
            return GP_ERR(GP_E_RANGE,
                          "gp_confusion_matrix: item %lld has truth %lld / prediction %lld outside "
                          "[0, %lld)",
                          (long long)i, (long long)truth[i], (long long)pred[i],
                          (long long)num_classes);
    for (int64_t k = 0; k < num_classes * num_classes; k++) cm[k] = 0;
    for (int64_t i = 0; i < n; i++) cm[truth[i] * num_classes + pred[i]]++;
    return GP_OK;
}

gp_status gp_mean_std(double *mean, double *std, int64_t n, const double *values)
{
    if (!mean || n < 1 || !values)
        return GP_ERR(GP_E_INVALID, "gp_mean_std: NULL argument or n = %lld < 1", (long long)n);
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += values[i];
    double m = sum / (double)n, ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (values[i] - m) * (values[i] - m);
    *mean = m;
    if (std) *std = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    return GP_OK;
}
