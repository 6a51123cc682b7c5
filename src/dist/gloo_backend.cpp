// gloo_backend.cpp: the one translation unit that includes ProcessGroupGloo.hpp (see backends.h).
//
// Why this is safe although the torch wheel ships no Gloo headers: ProcessGroupGloo.hpp includes
// <gloo/...> headers, which here come from Debian's libgloo-dev (gloo git 2022-05-18; scripts/setup.sh
// installs it). We use them header-only: libgloo is NOT linked, and every symbol this file calls
// (ProcessGroupGloo::Options::Options, createDefaultDevice, createDeviceForInterface, the
// ProcessGroupGloo constructor) is defined in libtorch_cpu.so, built against torch's own bundled Gloo.
// That is ABI-safe for what we touch because:
// - gloo types appear here only behind std::shared_ptr (Options::devices, the device the factory
//   returns): we pass those pointers through and never look inside a Gloo object, so the layout of
//   Gloo's classes in Debian's headers does not matter;
// - the layouts we do depend on (ProcessGroupGloo::Options: Backend::Options + vector<shared_ptr> +
//   int; and sizeof(ProcessGroupGloo) for make_intrusive: smart pointers, std containers, ints) come
//   from torch's own headers and contain no Gloo object by value;
// - ProcessGroupGloo's vtable is emitted in libtorch_cpu (its destructor is out of line); the inline
//   GlooStore (whose overrides depend on GLOO_STORE_HAS_STORE_V2) is never instantiated here.
// We call nothing else of the class: collectives go through the abstract c10d::Backend (comm.cpp).
// The alternative (declaring the symbols ourselves without the header) would be more fragile.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO  // the wheel is built with it; the header is empty without it
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <cstdlib>
#include <sstream>
#include <string>

#include "dist/backends.h"

namespace hrm::dist {

c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                   std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // GLOO_SOCKET_IFNAME as in PyTorch: a comma-separated list, one device per interface.
  const char* ifnames = std::getenv("GLOO_SOCKET_IFNAME");
  std::stringstream list(ifnames ? ifnames : "");
  for (std::string ifname; std::getline(list, ifname, ',');)
    if (!ifname.empty()) options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  if (options->devices.empty()) options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  options->threads = 2;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
}

}  // namespace hrm::dist
