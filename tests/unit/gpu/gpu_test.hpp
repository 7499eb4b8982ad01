// Test framework switch for the gpu/ tests: Catch2 2 normally; the tiny runner in mini_catch.hpp on a
// standalone GPU host that has no Catch2 installed.
#pragma once
#if defined(QUIRE_MINI_CATCH)
#include "mini_catch.hpp"
#else
#include <catch2/catch.hpp>
#endif
