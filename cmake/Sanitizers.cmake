# ASan + UBSan for the compiler and its tests (CI builds with -DQCC_SANITIZE=ON).
if(QCC_SANITIZE)
  set(_qcc_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_compile_options(${_qcc_san})
  add_link_options(${_qcc_san})
  # The interpreter poisons its outputs so tests catch kernels that read them.
  add_compile_definitions(QCC_POISON_OUTPUTS)
endif()
