/*
 * safetensors.h - saving and loading named tensors (being written: issue 6).
 */
#ifndef AG_SAFETENSORS_H
#define AG_SAFETENSORS_H
#endif
