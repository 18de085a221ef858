/*
 * kernels_command.cpp — `gan_cuda kernels`: the kernel variants of each op.
 */
#include <iomanip>

#include "apps/app.hpp"

namespace gan {

int run_kernels(const KernelsOptions& opt, std::ostream& out) {
  const auto backend = select_backend(opt.device, false, out, opt.threads);
  out << "backend: " << backend->name() << "\n";
  for (const OpVariants& op : backend->kernel_variants()) {
    out << "  " << std::left << std::setw(16) << op.op;
    for (size_t i = 0; i < op.variants.size(); ++i)
      out << (i ? ", " : "") << op.variants[i] << (op.variants[i] == op.selected ? " *" : "");
    out << "\n";
  }
  out << "(* = default; choose with --kernel OP=VARIANT)\n";
  return 0;
}

}  // namespace gan
