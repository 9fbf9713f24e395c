#include "tests/gradcheck.h"
