{
  "targets": [
    {
      "target_name": "piggyback_native",
      "sources": ["src/piggyback_native.cc"],
      "cflags_cc": ["-O3", "-std=c++17", "-fopenmp", "-fexceptions", "-ffp-contract=off", "-fno-math-errno"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++14"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl"]
    }
  ]
}
