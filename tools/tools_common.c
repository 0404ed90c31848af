/* SPDX-License-Identifier: MIT */
/* Shared helpers of the subcommands live here and in their own files (json, ...). */
#include "tools.h"
