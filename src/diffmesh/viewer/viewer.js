// The `diffmesh view` page: the input video and the recovered bodies, side by side, on one timeline.
//
// Everything comes from the page itself: the config (JSON), animation.glb and the video (base64 in
// <script type="application/octet-stream"> blocks), three.js (the import map's data: URL). The
// timeline is the video's clock when there is a video (the bodies follow video.currentTime), else
// a clock of its own; the animation time is always *set* from it, never advanced separately, so the
// two cannot drift. `window.diffmeshViewer` lets tests (and curious users) read the state.
import {
  AnimationMixer, Box3, Color, DirectionalLight, GLTFLoader, GridHelper, HemisphereLight,
  MeshStandardMaterial, OrbitControls, PerspectiveCamera, REVISION, Scene, Vector3, WebGLRenderer,
} from 'three-bundle';

const $ = (id) => document.getElementById(id);
const config = JSON.parse($('dm-config').textContent);

function fail(message) {
  if (document.body.dataset.state === 'error') return; // keep the first error: the others follow from it
  document.body.dataset.state = 'error';
  document.body.dataset.error = String(message);
  $('scene-message').textContent = `error: ${message}`;
  console.error(`diffmesh view: ${message}`);
}
window.addEventListener('error', (event) => fail(event.message));
window.addEventListener('unhandledrejection', (event) => fail(event.reason?.message ?? event.reason));

/** The bytes of a base64 data block (and the block removed, so the text is not held twice). */
function takeBytes(id) {
  const block = $(id);
  const text = atob(block.textContent.trim());
  block.remove();
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

// ---- timelines: what "now" is -------------------------------------------------------------

/** The video is the clock. With requestVideoFrameCallback the bodies follow the frame on screen. */
class VideoTimeline {
  constructor(video, fallbackDuration) {
    this.video = video;
    this.fallbackDuration = fallbackDuration;
    this.presented = null; // media time of the frame on screen while playing
    if ('requestVideoFrameCallback' in video) {
      const onFrame = (_now, meta) => { this.presented = meta.mediaTime; video.requestVideoFrameCallback(onFrame); };
      video.requestVideoFrameCallback(onFrame);
    }
    for (const event of ['seeking', 'pause']) video.addEventListener(event, () => { this.presented = null; });
  }
  get time() { return !this.video.paused && this.presented !== null ? this.presented : this.video.currentTime; }
  get duration() { return Number.isFinite(this.video.duration) ? this.video.duration : this.fallbackDuration; }
  get playing() { return !this.video.paused; }
  toggle() { if (this.video.paused) this.video.play().catch((err) => fail(`video: ${err.message}`)); else this.video.pause(); }
  seek(t) {
    return new Promise((resolve) => {
      this.video.addEventListener('seeked', () => resolve(), { once: true });
      this.video.currentTime = t;
    });
  }
  advance() {}
}

/** No video: a clock that loops over the animation. */
class ClockTimeline {
  constructor(duration) { this.time = 0; this.duration = duration; this.playing = false; }
  toggle() { this.playing = !this.playing; }
  seek(t) { this.time = Math.min(Math.max(t, 0), this.duration); return Promise.resolve(); }
  advance(dt) {
    if (!this.playing) return;
    this.time += dt;
    if (this.time > this.duration) this.time = 0;
  }
}

// ---- the 3-D scene ------------------------------------------------------------------------

function loadGltf(bytes) {
  return new Promise((resolve, reject) => new GLTFLoader().parse(bytes.buffer, '', resolve, reject));
}

/** Every skinned mesh is one person: give each its colour, the one the file names for it
 * (asset.extras.people[i].colour, the overlay's colour of its track id), else the palette's by index. */
function colourPeople(root, named = []) {
  const people = [];
  root.traverse((object) => { if (object.isSkinnedMesh) people.push(object); });
  people.forEach((mesh, i) => {
    const colour = named[i]?.colour ?? config.palette[i % config.palette.length];
    mesh.userData.label = named[i]?.name ?? `person ${i + 1}`;
    mesh.material = new MeshStandardMaterial({ color: new Color(colour), roughness: 0.65, metalness: 0.0 });
    mesh.frustumCulled = false; // its bounds are the bind pose's, not the animated body's
    mesh.userData.colour = colour;
  });
  return people;
}

/** The box holding every body at `samples` times over the animation (world frame, metres). */
function motionBounds(root, people, setTime, duration, samples = 12) {
  const box = new Box3();
  const one = new Box3();
  for (let k = 0; k <= samples; k++) {
    setTime((duration * k) / samples);
    root.updateMatrixWorld(true);
    for (const mesh of people) {
      mesh.computeBoundingBox(); // skinned: the posed vertices
      box.union(one.copy(mesh.boundingBox).applyMatrix4(mesh.matrixWorld));
    }
  }
  return box;
}

function buildScene(canvas, gltf) {
  const renderer = new WebGLRenderer({ canvas, antialias: true });
  renderer.setPixelRatio(window.devicePixelRatio);
  const scene = new Scene();
  scene.background = new Color(config.background);
  scene.add(new HemisphereLight(0xffffff, 0x3a3f47, 1.6));
  const sun = new DirectionalLight(0xffffff, 2.2);
  scene.add(sun);
  scene.add(gltf.scene);

  const people = colourPeople(gltf.scene, gltf.asset?.extras?.people ?? []);
  if (people.length === 0) throw new Error('animation.glb has no skinned mesh (no body to show)');
  const mixer = new AnimationMixer(gltf.scene);
  const actions = gltf.animations.map((clip) => mixer.clipAction(clip).play());
  const duration = Math.max(0, ...gltf.animations.map((clip) => clip.duration));
  const setTime = (t) => {
    const clamped = Math.min(Math.max(t, 0), duration);
    for (const action of actions) action.time = clamped; // set, never advanced: no drift
    mixer.update(0);
    return clamped;
  };

  // Frame the camera on the bodies: in front of them, a little to the right and above.
  const box = motionBounds(gltf.scene, people, setTime, duration);
  const centre = box.getCenter(new Vector3());
  const size = box.getSize(new Vector3());
  const camera = new PerspectiveCamera(40, 1, 0.01, 1000);
  const radius = Math.max(size.length() / 2, 0.5);
  const distance = (1.15 * radius) / Math.sin((camera.fov * Math.PI) / 360);
  camera.position.copy(centre).add(new Vector3(0.45, 0.3, 1).normalize().multiplyScalar(distance));
  camera.near = distance / 100;
  camera.far = distance * 100;
  camera.updateProjectionMatrix();
  sun.position.copy(centre).add(new Vector3(1, 3, 2).multiplyScalar(radius));
  sun.target.position.copy(centre);
  scene.add(sun.target);

  // The ground: a 1 m grid under the lowest foot, a little larger than the motion.
  const extent = Math.max(4, 2 * Math.ceil(Math.max(size.x, size.z) / 2 + 1));
  const grid = new GridHelper(extent, extent, 0x6b7280, 0x3a3f47);
  grid.position.set(centre.x, box.min.y, centre.z);
  scene.add(grid);

  const controls = new OrbitControls(camera, canvas);
  controls.target.copy(centre);
  controls.enableDamping = true;
  controls.update();
  return { renderer, scene, camera, controls, people, setTime, duration, mixer, box };
}

// ---- the page -----------------------------------------------------------------------------

function formatClock(t, fps, firstFrame) {
  return `${t.toFixed(2)} s · frame ${firstFrame + Math.round(t * fps)}`;
}

/** Marks under the timeline where summary.json's quality says the result is less sure; a click seeks. */
function drawMarks(duration, fps, firstFrame, seek) {
  const marks = $('marks');
  marks.replaceChildren();
  if (!(duration > 0)) return;
  for (const u of config.unsure) {
    const t0 = (u.start - firstFrame) / fps;
    const t1 = (u.end - firstFrame) / fps;
    if (t1 <= 0 || t0 >= duration) continue;
    const mark = document.createElement('span');
    mark.className = u.why.replace(/ /g, '-');
    mark.style.left = `${(100 * Math.max(t0, 0)) / duration}%`;
    mark.style.width = `${(100 * (Math.min(t1, duration) - Math.max(t0, 0))) / duration}%`;
    mark.title = `frames ${u.start}-${u.end - 1}: ${u.why}${u.person === null ? '' : ` (person ${u.person})`}`;
    mark.addEventListener('click', () => seek(Math.max(t0, 0)));
    marks.append(mark);
  }
}

function setUpVideo() {
  const bytes = config.video ? takeBytes('dm-video') : null;
  if (!bytes) {
    $('dm-video').remove();
    $('panels').classList.add('no-video');
    return null;
  }
  const video = $('video');
  video.src = URL.createObjectURL(new Blob([bytes], { type: config.video.mime }));
  video.title = config.video.name;
  return video;
}

async function main() {
  const gltf = await loadGltf(takeBytes('dm-glb'));
  const view = buildScene($('scene'), gltf);
  const video = setUpVideo();
  // Animation time = timeline time - offset (the video may start before the first exported frame);
  // the clock shows frame numbers of the source video.
  let offset = video ? config.video.animation_offset_s : 0;
  let firstFrame = video ? config.video.first_frame : config.first_frame;
  let timeline = video ? new VideoTimeline(video, view.duration + offset) : new ClockTimeline(view.duration);
  if (video) {
    video.addEventListener('error', () => {
      // An undecodable video leaves the bodies playable on their own clock.
      $('video-message').textContent = `this browser cannot play ${config.video.name} (${config.video.mime}); the bodies play alone`;
      console.warn(`diffmesh view: cannot play ${config.video.name}`);
      timeline = new ClockTimeline(view.duration);
      offset = 0;
      firstFrame = config.first_frame;
    }, { once: true });
  }

  const legend = $('legend');
  view.people.forEach((mesh) => {
    const item = document.createElement('span');
    item.style.setProperty('--swatch', mesh.userData.colour);
    item.textContent = mesh.userData.label;
    legend.append(item);
  });

  const play = $('play');
  const scrub = $('scrub');
  let scrubbing = false;
  play.disabled = scrub.disabled = false;
  play.addEventListener('click', () => timeline.toggle());
  scrub.addEventListener('pointerdown', () => { scrubbing = true; });
  window.addEventListener('pointerup', () => { scrubbing = false; }); // also when let go off the slider
  scrub.addEventListener('input', () => timeline.seek(Number(scrub.value)));
  window.addEventListener('keydown', (event) => {
    if (event.target.closest('button, input')) return; // they have their own keys (space clicks, arrows slide)
    const step = { ArrowLeft: -1, ArrowRight: 1 }[event.code];
    if (event.code === 'Space') timeline.toggle();
    else if (step) timeline.seek(timeline.time + step / config.fps);
    else return;
    event.preventDefault();
  });

  const resize = () => {
    const { clientWidth: w, clientHeight: h } = view.renderer.domElement;
    if (w === 0 || h === 0) return;
    view.renderer.setSize(w, h, false);
    view.camera.aspect = w / h;
    view.camera.updateProjectionMatrix();
  };
  new ResizeObserver(resize).observe($('scene'));
  resize();

  let animationTime = 0;
  let marked = null; // the first frame the marks were drawn for
  let frames = 0;
  let last = performance.now();
  const rendered = []; // resolvers waiting for the next rendered frame
  const render = (now) => {
    timeline.advance((now - last) / 1000);
    last = now;
    const t = timeline.time;
    animationTime = view.setTime(t - offset);
    if (scrub.max !== String(timeline.duration) || marked !== firstFrame) {
      marked = firstFrame;
      drawMarks(timeline.duration, config.fps, firstFrame, (s) => timeline.seek(s));
    }
    scrub.max = String(timeline.duration);
    if (!scrubbing) scrub.value = String(t);
    play.textContent = timeline.playing ? 'Pause' : 'Play';
    $('clock').textContent = formatClock(t, config.fps, firstFrame);
    view.controls.update();
    view.renderer.render(view.scene, view.camera);
    frames += 1;
    if (frames === 1) document.body.dataset.state = document.body.dataset.state === 'error' ? 'error' : 'ready';
    rendered.splice(0).forEach((resolve) => resolve());
    requestAnimationFrame(render);
  };
  requestAnimationFrame(render);

  const nextFrame = () => new Promise((resolve) => rendered.push(resolve));
  window.diffmeshViewer = {
    /** A JSON-friendly snapshot: state, people and colours, times, the video's state. */
    status: () => ({
      state: document.body.dataset.state,
      error: document.body.dataset.error ?? null,
      three: REVISION,
      people: view.people.map((mesh) => ({ name: mesh.name, colour: mesh.userData.colour })),
      duration: view.duration,
      time: timeline.time,
      animationTime,
      framesRendered: frames,
      marks: [...$('marks').children].map((m) => ({ title: m.title, kind: m.className, left: m.style.left, width: m.style.width })),
      bounds: { min: view.box.min.toArray(), max: view.box.max.toArray() },
      video: video && { name: config.video.name, readyState: video.readyState, duration: video.duration,
        error: video.error && video.error.code, playing: timeline instanceof VideoTimeline && timeline.playing },
    }),
    /** Move the timeline to `t` seconds (as the slider does); resolves once a frame at `t` is drawn. */
    seek: async (t) => { await timeline.seek(t); await nextFrame(); await nextFrame(); },
    /** World position (metres, Y up) of the joint `name` (its glTF name) of person `i`, as drawn now. */
    nodePosition: (name, i = 0) => {
      // three.js makes repeated names unique ("pelvis_1"); the glTF name stays in userData.name
      const bone = view.people[i].skeleton.bones.find((b) => (b.userData.name ?? b.name) === name);
      if (!bone) throw new Error(`person ${i} has no joint ${name}`);
      return bone.getWorldPosition(new Vector3()).toArray();
    },
  };
}

main().catch((err) => fail(err?.message ?? err));
