// Writes a compile-only copy of an assembly in which every type and member is public.
//
// ML.NET keeps its extension points (ModelSaveContext/ModelLoadContext members, VersionInfo,
// LoadableClassAttribute, ModelParametersBase<T>, ...) internal and grants them to Microsoft-signed
// assemblies only. Compiling against this copy lets the C# compiler see them; at run time the real
// assembly is loaded and CoreCLR skips the access checks because our assembly declares
// [IgnoresAccessChecksTo]. The copy is therefore never executed: bodies are replaced by `throw null`
// and the assembly is marked [ReferenceAssembly] so that the runtime refuses to load it by mistake.
using Mono.Cecil;
using Mono.Cecil.Cil;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: MLNetPublicizer <input.dll> <output.dll> [reference-directory...]");
    return 2;
}

var (input, output) = (args[0], args[1]);

// Writing a default parameter value of an enum type makes Cecil resolve the enum, which may live in
// another assembly: it looks next to the input and in the directories the build passes.
using var resolver = new DefaultAssemblyResolver();
foreach (var directory in args.Skip(2).Prepend(Path.GetDirectoryName(Path.GetFullPath(input))!))
    resolver.AddSearchDirectory(directory);

using (var assembly = AssemblyDefinition.ReadAssembly(input, new ReaderParameters { AssemblyResolver = resolver }))
{
    var module = assembly.MainModule;
    foreach (var type in module.GetTypes()) // GetTypes includes nested types.
        Publicize(type);

    // The strong-name signature no longer matches; the compiler ignores it, and the identity
    // (name, version, public key) stays that of the real assembly, which is what gets bound at run time.
    module.Attributes &= ~ModuleAttributes.StrongNameSigned;
    module.Resources.Clear(); // Only the compiler reads the copy; it never looks at resources.
    MarkAsReferenceAssembly(assembly);

    // Write to a temporary file first: a half-written output would look up to date to an incremental build.
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    var temporary = output + ".tmp";
    assembly.Write(temporary);
    File.Move(temporary, output, overwrite: true);
}
return 0;

static void Publicize(TypeDefinition type)
{
    if (type.IsNested)
        type.IsNestedPublic = true;
    else
        type.IsPublic = true;

    // A field-like event has a private backing field of the same name; making both public would make
    // every use of the event ambiguous (CS0229).
    var eventNames = type.Events.Select(e => e.Name).ToHashSet();
    foreach (var field in type.Fields)
    {
        if (!eventNames.Contains(field.Name))
            field.IsPublic = true;
    }

    // Property and event accessors are methods, so this covers them too. A virtual member that only derived types may
    // call (private protected, protected, protected internal) becomes protected, not public: an override must repeat the
    // access it sees, so this keeps overrides such as SaveCore out of the library's own public surface.
    foreach (var method in type.Methods)
    {
        if (method.IsVirtual && (method.IsFamilyAndAssembly || method.IsFamily || method.IsFamilyOrAssembly))
            method.IsFamily = true;
        else
            method.IsPublic = true;
        if (method.HasBody)
            StripBody(method);
    }
}

static void StripBody(MethodDefinition method)
{
    // Same body as the SDK's reference assemblies: `throw null`. It keeps the IL valid without
    // having to resolve any type the original body used.
    var body = new MethodBody(method);
    var il = body.GetILProcessor();
    il.Emit(OpCodes.Ldnull);
    il.Emit(OpCodes.Throw);
    method.Body = body;
}

static void MarkAsReferenceAssembly(AssemblyDefinition assembly)
{
    var module = assembly.MainModule;
    var attributeType = new TypeReference(
        "System.Runtime.CompilerServices", "ReferenceAssemblyAttribute", module, module.TypeSystem.CoreLibrary);
    var ctor = new MethodReference(".ctor", module.TypeSystem.Void, attributeType) { HasThis = true };
    assembly.CustomAttributes.Add(new CustomAttribute(ctor));
}
