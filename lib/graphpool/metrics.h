/*
 * Evaluation metrics: ROC-AUC, average precision, accuracy, confusion matrix, mean and
 * standard deviation over runs.
 *
 * Scores are double (heuristic scores and model outputs converted once; double keeps ties
 * that float rounding would create). Binary labels are int64 0/1 (any other value is an
 * error); class labels are int64 in [0, num_classes).
 */
#ifndef GRAPHPOOL_METRICS_H
#define GRAPHPOOL_METRICS_H

#include <stdint.h>
#include <graphpool/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ROC-AUC = P(score of a random positive > score of a random negative) + 1/2 P(tie),
 * computed exactly from mid-ranks: AUC = (R_pos - P(P+1)/2) / (P N), R_pos the sum of the
 * positives' ranks in ascending score order with tied scores sharing their mean rank.
 * Errors: NULL arguments, a label other than 0/1, no positive or no negative (AUC undefined:
 * GP_E_INVALID), a NaN score (GP_E_NUMERIC). Complexity O(n log n), O(n) extra memory.
 */
GP_API gp_status gp_roc_auc(double *auc, int64_t n, const double *scores, const int64_t *labels);
/* The same from separate positive and negative score lists (link prediction). */
GP_API gp_status gp_roc_auc_pn(double *auc, int64_t num_pos, const double *pos, int64_t num_neg,
                               const double *neg);

/*
 * Average precision as in scikit-learn's average_precision_score: with thresholds at the
 * distinct scores in decreasing order (tied scores enter together),
 *   AP = sum_k (R_k - R_{k-1}) P_k,
 * P_k and R_k the precision and recall of "score >= threshold k", R_0 = 0. No interpolation.
 * Errors as gp_roc_auc (no positive: GP_E_INVALID; negatives may be absent). O(n log n).
 */
GP_API gp_status gp_average_precision(double *ap, int64_t n, const double *scores,
                                      const int64_t *labels);
GP_API gp_status gp_average_precision_pn(double *ap, int64_t num_pos, const double *pos,
                                         int64_t num_neg, const double *neg);

/* Fraction of i with pred[i] == truth[i]. n must be > 0. O(n). */
GP_API gp_status gp_accuracy(double *acc, int64_t n, const int64_t *pred, const int64_t *truth);
/* Accuracy of "score > threshold" against 0/1 labels (positives above, negatives at or below). */
GP_API gp_status gp_binary_accuracy(double *acc, int64_t n, const double *scores,
                                    const int64_t *labels, double threshold);

/*
 * Confusion matrix cm[num_classes * num_classes], row = true class, column = predicted:
 * cm[t * num_classes + p] counts items with truth t predicted as p. Labels outside
 * [0, num_classes) give GP_E_RANGE naming the item. O(n + num_classes^2).
 */
GP_API gp_status gp_confusion_matrix(int64_t *cm, int64_t num_classes, int64_t n,
                                     const int64_t *pred, const int64_t *truth);

/*
 * Mean and sample standard deviation (divisor n - 1; 0 when n == 1) of n >= 1 values, e.g.
 * test accuracies over runs reported as mean +- std. Two-pass for accuracy. std may be NULL.
 */
GP_API gp_status gp_mean_std(double *mean, double *std, int64_t n, const double *values);

#ifdef __cplusplus
}
#endif
#endif
