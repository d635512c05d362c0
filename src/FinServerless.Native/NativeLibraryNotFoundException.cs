namespace FinServerless.Native;

/// <summary>A native engine could not be found or loaded; the message says where we looked and how to fix it.</summary>
public sealed class NativeLibraryNotFoundException(string message, Exception? inner = null) : Exception(message, inner);
