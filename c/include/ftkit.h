/*
 * ftkit.h - libftkit, scalable concurrency primitives with a stable C ABI.
 * Include this umbrella header; the per-module headers live in ftkit/.
 */
#ifndef FTKIT_H
#define FTKIT_H

#include "ftkit/common.h"
#include "ftkit/slots.h"
#include "ftkit/atomic.h"
#include "ftkit/map.h"
#include "ftkit/queue.h"
#include "ftkit/sync.h"
#include "ftkit/deque.h"
#include "ftkit/counter.h"
#include "ftkit/gather.h"
#include "ftkit/batch.h"
#include "ftkit/sem.h"

#endif /* FTKIT_H */
