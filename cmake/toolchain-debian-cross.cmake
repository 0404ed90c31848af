# Cross toolchain: Debian's gcc-<triple> cross compiler against a sysroot made by
# scripts/cross.sh (Debian bullseye, glibc 2.31: the oldest glibc on Venus OS v3.x).
#
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-debian-cross.cmake \
#         -DSB_CROSS_ARCH=armhf|arm64 -DSB_SYSROOT=/path/to/sysroot ...
#
# Debian's cross gcc also knows its own libc (/usr/<triple>/lib, glibc 2.36) and
# searches it before the sysroot. The -B/-L flags below put the sysroot's
# startfiles and libraries first, so every binary binds to the bullseye glibc;
# scripts/check-binary.sh verifies the result.

# try_compile() projects re-read this file without the cache: pass the two inputs on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES SB_CROSS_ARCH SB_SYSROOT)
if(NOT SB_CROSS_ARCH AND DEFINED ENV{SB_CROSS_ARCH})
  set(SB_CROSS_ARCH "$ENV{SB_CROSS_ARCH}")
endif()
if(NOT SB_SYSROOT AND DEFINED ENV{SB_SYSROOT})
  set(SB_SYSROOT "$ENV{SB_SYSROOT}")
endif()

if(SB_CROSS_ARCH STREQUAL "armhf")
  set(SB_CROSS_TRIPLE arm-linux-gnueabihf)
  set(CMAKE_SYSTEM_PROCESSOR arm)
  set(SB_QEMU qemu-arm)
  # Debian's armhf baseline (ARMv7-A, VFPv3-D16, Thumb-2) runs on every 32-bit GX
  # device (Cortex-A7/A8/A9): stated explicitly so a different default cannot creep in.
  # 64-bit off_t/ino_t: readdir() and stat() of big inode numbers (and qemu-user on
  # a 64-bit host, where 32-bit getdents fails with EOVERFLOW otherwise).
  set(SB_CROSS_CFLAGS "-march=armv7-a+fp -mfpu=vfpv3-d16 -mfloat-abi=hard -mthumb -D_FILE_OFFSET_BITS=64")
elseif(SB_CROSS_ARCH STREQUAL "arm64")
  set(SB_CROSS_TRIPLE aarch64-linux-gnu)
  set(CMAKE_SYSTEM_PROCESSOR aarch64)
  set(SB_QEMU qemu-aarch64)
  set(SB_CROSS_CFLAGS "")
else()
  message(FATAL_ERROR "SB_CROSS_ARCH must be armhf or arm64 (got '${SB_CROSS_ARCH}')")
endif()
if(NOT SB_SYSROOT OR NOT EXISTS "${SB_SYSROOT}/usr/include/${SB_CROSS_TRIPLE}")
  message(FATAL_ERROR "SB_SYSROOT '${SB_SYSROOT}' is not a ${SB_CROSS_ARCH} sysroot: run scripts/cross.sh ${SB_CROSS_ARCH}")
endif()

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${SB_CROSS_TRIPLE}-gcc)
set(CMAKE_SYSROOT "${SB_SYSROOT}")
set(CMAKE_LIBRARY_ARCHITECTURE ${SB_CROSS_TRIPLE})

set(_sb_libdirs "${SB_SYSROOT}/usr/lib/${SB_CROSS_TRIPLE}" "${SB_SYSROOT}/lib/${SB_CROSS_TRIPLE}")
set(_sb_link "")
foreach(d IN LISTS _sb_libdirs)
  string(APPEND _sb_link " -B${d}/ -L${d} -Wl,-rpath-link,${d}")
endforeach()
set(CMAKE_C_FLAGS_INIT "${SB_CROSS_CFLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_sb_link} -Wl,--as-needed")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_sb_link} -Wl,--as-needed")

set(CMAKE_FIND_ROOT_PATH "${SB_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: only the sysroot's .pc files, paths prefixed with the sysroot.
set(ENV{PKG_CONFIG_DIR} "")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_LIBDIR} "${SB_SYSROOT}/usr/lib/${SB_CROSS_TRIPLE}/pkgconfig:${SB_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${SB_SYSROOT}")

# Tests run under qemu-user with the sysroot as the library root.
find_program(SB_QEMU_BIN ${SB_QEMU})
if(SB_QEMU_BIN)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${SB_QEMU_BIN};-L;${SB_SYSROOT}")
endif()
