/*
 * random.h - random numbers with PyTorch 1.13's CPU generator (being written: issue 3).
 */
#ifndef AG_RANDOM_H
#define AG_RANDOM_H
#endif
