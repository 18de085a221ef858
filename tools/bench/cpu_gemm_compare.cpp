/*
 * cpu_gemm_compare.cpp — the matrix products of one training iteration (default model, batch
 * B) with one CPU SGEMM library, to choose the CPU backend's library by measurement.
 *
 * Not part of the build (it links libraries the project does not need). One binary per
 * library, from the repository root:
 *   g++ -O3 -std=c++17 -pthread -DUSE_OPENBLAS -I/usr/include/x86_64-linux-gnu/openblas-pthread \
 *       tools/bench/cpu_gemm_compare.cpp -o /tmp/gemm_openblas -lopenblas
 *   g++ -O3 -std=c++17 -pthread -fopenmp -DUSE_BLIS -I/usr/include/x86_64-linux-gnu/blis-openmp \
 *       tools/bench/cpu_gemm_compare.cpp -o /tmp/gemm_blis \
 *       -L/usr/lib/x86_64-linux-gnu/blis-openmp -lblis -Wl,-rpath,/usr/lib/x86_64-linux-gnu/blis-openmp
 *   g++ -O3 -std=c++17 -pthread -fopenmp -DUSE_DNNL tools/bench/cpu_gemm_compare.cpp \
 *       -o /tmp/gemm_onednn -ldnnl
 *   g++ -O3 -std=c++17 -pthread -DUSE_EIGEN -DEIGEN_DONT_PARALLELIZE -I/usr/include/eigen3 \
 *       -march=x86-64-v4 tools/bench/cpu_gemm_compare.cpp -o /tmp/gemm_eigen512   (or v3: AVX2)
 * (Debian packages libopenblas-dev, libblis-dev, libdnnl-dev, libeigen3-dev.) Run
 *   /tmp/gemm_<lib> B T
 * for batch B and T threads: the library's single-threaded product, each one split by
 * columns over T std::threads (the CPU backend's scheme). Prints the median and best of 15
 * repetitions of the iteration's 33 products and the GFLOP/s at the median.
 */
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <thread>
#include <functional>
#include <algorithm>
#if defined(USE_OPENBLAS)
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
static const char* NAME="openblas";
static void sg(bool ta,bool tb,int M,int N,int K,const float*A,int lda,const float*B,int ldb,float*C,int ldc){
 cblas_sgemm(CblasRowMajor,ta?CblasTrans:CblasNoTrans,tb?CblasTrans:CblasNoTrans,M,N,K,1.f,A,lda,B,ldb,0.f,C,ldc);}
static void init1(){openblas_set_num_threads(1);}
#elif defined(USE_BLIS)
#include <blis.h>
static const char* NAME="blis";
static void sg(bool ta,bool tb,int M,int N,int K,const float*A,int lda,const float*B,int ldb,float*C,int ldc){
 float one=1,zero=0; bli_sgemm(ta?BLIS_TRANSPOSE:BLIS_NO_TRANSPOSE,tb?BLIS_TRANSPOSE:BLIS_NO_TRANSPOSE,M,N,K,&one,(float*)A,lda,1,(float*)B,ldb,1,&zero,C,ldc,1);}
static void init1(){bli_thread_set_num_threads(1); printf("blis arch %s\n", bli_arch_string(bli_arch_query_id()));}
#elif defined(USE_DNNL)
#include <dnnl.h>
#include <omp.h>
static const char* NAME="onednn";
static void sg(bool ta,bool tb,int M,int N,int K,const float*A,int lda,const float*B,int ldb,float*C,int ldc){
 dnnl_sgemm(ta?'T':'N',tb?'T':'N',M,N,K,1.f,A,lda,B,ldb,0.f,C,ldc);}
static void init1(){omp_set_num_threads(1);}
#elif defined(USE_EIGEN)
#include <Eigen/Core>
static const char* NAME="eigen";
using RM=Eigen::Matrix<float,Eigen::Dynamic,Eigen::Dynamic,Eigen::RowMajor>;
using S=Eigen::OuterStride<>;
static void sg(bool ta,bool tb,int M,int N,int K,const float*A,int lda,const float*B,int ldb,float*C,int ldc){
 Eigen::Map<RM,0,S> c(C,M,N,S(ldc));
 if(!ta&&!tb){Eigen::Map<const RM,0,S> a(A,M,K,S(lda)); Eigen::Map<const RM,0,S> b(B,K,N,S(ldb)); c.noalias()=a*b;}
 else if(!ta&&tb){Eigen::Map<const RM,0,S> a(A,M,K,S(lda)); Eigen::Map<const RM,0,S> b(B,N,K,S(ldb)); c.noalias()=a*b.transpose();}
 else {Eigen::Map<const RM,0,S> a(A,K,M,S(lda)); Eigen::Map<const RM,0,S> b(B,K,N,S(ldb)); c.noalias()=a.transpose()*b;}
}
static void init1(){Eigen::setNbThreads(1);}
#endif
struct G{bool ta,tb;int M,N,K;};
int main(int argc,char**argv){
 init1();
 int B=argc>1?atoi(argv[1]):128; int T=argc>2?atoi(argv[2]):1;
 std::vector<G> gs;
 int g[]={64,128,256,512,1024,784}; int d[]={784,512,256,128};
 auto lay=[&](int rows,int in,int out,bool dw,bool dx){gs.push_back({false,true,rows,out,in}); if(dw)gs.push_back({true,false,out,in,rows}); if(dx)gs.push_back({false,false,rows,in,out});};
 // D step: G fwd B, D fwd 2B, D dW 2B, dx 2B (not first)
 for(int l=0;l<5;l++) lay(B,g[l],g[l+1],false,false);
 for(int l=0;l<3;l++) lay(2*B,d[l],d[l+1],true,l>0);
 // G step
 for(int l=0;l<5;l++) lay(B,g[l],g[l+1],true,l>0);
 for(int l=0;l<3;l++) lay(B,d[l],d[l+1],false,true);
 double flops=0; for(auto&x:gs) flops+=2.0*x.M*x.N*x.K;
 std::vector<float> A(4096*1024),Bm(4096*1024),C(4096*1024);
 for(auto&x:A)x=rand()/(float)RAND_MAX; for(auto&x:Bm)x=rand()/(float)RAND_MAX;
 auto run=[&](){ for(auto&x:gs){
   int lda=x.ta?x.M:x.K, ldb=x.tb?x.K:x.N;
   if(T==1) sg(x.ta,x.tb,x.M,x.N,x.K,A.data(),lda,Bm.data(),ldb,C.data(),x.N);
   else { // split N in T parts (multiple of 16)
     std::vector<std::thread> th; int chunk=((x.N+T-1)/T+15)/16*16;
     for(int t=0;t<T;t++){int n0=t*chunk,n1=std::min(x.N,n0+chunk); if(n0>=n1)break;
       th.emplace_back([&,n0,n1]{ const float* b=x.tb? Bm.data()+ (size_t)n0*ldb : Bm.data()+n0; sg(x.ta,x.tb,x.M,n1-n0,x.K,A.data(),lda,b,ldb,C.data()+n0,x.N);});}
     for(auto&t:th)t.join(); }
 }};
 run();run();
 std::vector<double> ts;
 for(int r=0;r<15;r++){auto t0=std::chrono::steady_clock::now(); run(); ts.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now()-t0).count());}
 std::sort(ts.begin(),ts.end());
 printf("%s B=%d T=%d: %.2f ms/iter-of-gemms (min %.2f)  %.1f GFLOP/s  (%.0f MFLOP)\n",NAME,B,T,ts[7]*1e3,ts[0]*1e3,flops/ts[7]/1e9,flops/1e6);
}
