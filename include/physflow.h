#pragma once
/* physflow: physics-constrained flow matching on distributed meshes. */
#include <physflow/real.h>
#include <physflow/rng.h>
#include <physflow/log.h>
#include <physflow/h5util.h>
#include <physflow/nn.h>
#include <physflow/net.h>
#include <physflow/sampler.h>
#include <physflow/flow.h>
#include <physflow/optim.h>
#include <physflow/data.h>
#include <physflow/trainer.h>
#include <physflow/signals.h>
#include <physflow/metrics.h>
#include <physflow/ot.h>
