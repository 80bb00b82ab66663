// build.mjs turns every imported .css file into its minified text.
declare module '*.css' {
  const text: string;
  export default text;
}
