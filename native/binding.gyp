{
  "targets": [
    {
      "target_name": "piggyback_native",
      "sources": ["src/piggyback_native.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fopenmp", "-fexceptions", "-ffp-contract=off", "-fno-math-errno"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++14"],
      # DT_RPATH $ORIGIN (not RUNPATH, so it also serves libdnnl's own deps): the linux-x64 vsix
      # carries libdnnl, libgomp and libOpenCL beside the addon.
      "ldflags": ["-fopenmp", "-Wl,--disable-new-dtags", "-Wl,-rpath,'$$ORIGIN'"],
      "libraries": ["-ldnnl"]
    }
  ]
}
