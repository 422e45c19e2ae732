// Linked by layer_check_<layer> (core/CMakeLists.txt) with one core layer as a whole archive
// and only the layers it declares: the link fails if the layer uses code of any other.
int main() {
  return 0;
}
