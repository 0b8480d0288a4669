/*
 * optim.h - optimizers over leaf tensors, as torch.optim (being written: issue 3).
 */
#ifndef AG_OPTIM_H
#define AG_OPTIM_H
#endif
