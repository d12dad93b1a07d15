/* placeholder */ typedef int sk_placeholder_sk_loader;
